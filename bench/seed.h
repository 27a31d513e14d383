/* seed.h -- `fd-bench seed`: a synthetic clinic network in Redis, with its
 * routing rules and the truth a run checks answers against.
 *
 * What it does: from --sites, --staff-per-site, --available and --seed,
 * derives (deterministically: the same flags give the same bytes) every
 * site and staff member: skills scheduling, billing and intake with
 * proficiencies 1-5 (each person has one main skill, so every skill is
 * staffed), a presence mix (available, busy, break, offline), a contact
 * sip:s<site>-<n>@10.x.y.z:5060. It writes them into a loopback Redis only
 * through the frontdesk functions (FCALL fd_staff_set, pipelined), removing
 * through fd_staff_remove whoever an earlier seed left at those sites; then
 * writes the rules YAML (one number per site, "+1 555 0NNNNNN", a menu, a
 * fallback per site, no hours: always open) and the truth file (truth.h).
 *
 * What it never does: no address but loopback (exit 2), no other Redis
 * command than FCALL/FCALL_RO, AUTH and, when the library is missing,
 * FUNCTION LOAD.
 *
 * Exit status: 0 seeded, 1 Redis refused a command or a file could not be
 * written, 2 bad flags or Redis unreachable.
 */
#ifndef FRONTDESK_BENCH_SEED_H
#define FRONTDESK_BENCH_SEED_H

/* argv[0] is "seed". */
int seed_main(int argc, char **argv);

#endif
