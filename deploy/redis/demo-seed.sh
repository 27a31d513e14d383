#!/bin/sh
# Seed the demo clinic group (rules/examples/demo.yaml) into the Redis at
# ${FD_REDIS_HOST:-127.0.0.1}:$FD_REDIS_PORT, through the frontdesk functions
# only, as a reception dashboard would. 30 staff over three sites in two
# time zones. FD_REDIS_USER (and REDISCLI_AUTH, read by redis-cli) when
# Redis wants AUTH.
set -eu
R="redis-cli -h ${FD_REDIS_HOST:-127.0.0.1} -p ${FD_REDIS_PORT:?FD_REDIS_PORT must be set}${FD_REDIS_USER:+ --user $FD_REDIS_USER} --no-auth-warning"

staff() { # site id skills state
    $R FCALL fd_staff_set 1 "fd:{$1}" "$2" "sip:$2@pbx.$1.hillcountry.example" "$3" "$4" >/dev/null
}

# Downtown Austin (America/Chicago): the busiest site
staff downtown ana.garcia    scheduling:5,billing:2  available
staff downtown ben.okafor    scheduling:4            available
staff downtown carla.nguyen  billing:5               available
staff downtown david.kim     billing:4,scheduling:2  busy
staff downtown elena.rossi   intake:5,scheduling:3   available
staff downtown farah.haddad  intake:4                break
staff downtown george.miller scheduling:3            offline
staff downtown hana.sato     billing:3               wrapup
staff downtown ivan.petrov   intake:3,billing:2      available
staff downtown julia.costa   scheduling:4,intake:2   busy
staff downtown kofi.mensah   scheduling:2            available
staff downtown lena.schmidt  billing:2               offline

# Northlake, Round Rock (America/Chicago)
staff northlake maria.lopez   scheduling:5           available
staff northlake nate.brooks   scheduling:3,billing:3 available
staff northlake olivia.chen   billing:5              busy
staff northlake pedro.alves   billing:4              available
staff northlake quinn.harper  scheduling:4           break
staff northlake rosa.diaz     scheduling:2,billing:2 offline
staff northlake sam.wilson    billing:3              available
staff northlake tara.singh    scheduling:3           wrapup

# Westside Denver (America/Denver)
staff westside uma.patel     intake:5,scheduling:3  available
staff westside victor.hugo   intake:4               busy
staff westside wendy.zhang   scheduling:5           available
staff westside xavier.ortiz  billing:5              available
staff westside yara.khalil   billing:3,intake:2     break
staff westside zoe.martin    scheduling:4,billing:2 available
staff westside aaron.bell    intake:3               available
staff westside bianca.ferro  scheduling:2           offline
staff westside caleb.wright  billing:4              wrapup
staff westside dana.fox      intake:2,scheduling:2  offline

# The float team: a group-wide pool the sites overflow to
staff float   gina.ross     scheduling:4,billing:3,intake:3 available
staff float   hugo.lind     scheduling:3,intake:4           available
staff float   iris.vance    billing:4                       break

echo "seeded: 30 staff at downtown, northlake, westside; 3 in the float pool"
