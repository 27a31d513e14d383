#!lua name=frontdesk_lib
--
-- Frontdesk's Redis Functions library (contract version 4): the only way
-- presence is written and the one round trip an INVITE makes. Proxies load
-- it at connect unless Redis already holds this version or a newer one
-- (proxy/store_reply.c, store_lib_action). Keys and functions are in
-- docs/redis.md, why they look like this in docs/decisions.md ("The lean
-- pick"). Every key of a site carries the hash tag {site}, and a site is
-- always named to a function by its prefix "fd:{<site>}" in KEYS.
--
-- The pick is the hot path and is written for the Lua-to-Redis bridge: few
-- redis.call()s (each costs more than the command it runs), strings passed
-- as Redis gave them (no number formatting), parsed arguments remembered
-- across calls, few tables. Presence writes (dashboards) keep the derived
-- keys in step and may cost more.
--
--   site prefix p = "fd:{<site>}"
--   p:staff            set     ids
--   p:staff:<id>       hash    contact skills state reason last_end max_offers updated
--   p:on               hash    the available staff: id -> "<contact>[ <max>]" (what the
--                              presence Functions write; version 3 wrote "<until> <contact>[ <max>]":
--                              read, its <until> ignored, since whoever may write presence may
--                              write p:on: an offer open when the library was upgraded may be
--                              offered again; docs/operations.md)
--   p:claim            hash    reservations: id -> <until>, ms until which they are full
--                              (offered); written by fd_pick and fd_release only, so a user
--                              who may set presence cannot reserve anyone (deploy/redis/users.acl)
--   p:queues           set     queues kept up to date: "<code>:<skill>:<min>"
--   p:q:li:<skill>:<min>  zset available staff, level >= min, by last_end
--   p:q:ms:<skill>:<min>  zset the same by (5 - level) * 1e13 + last_end
--   p:q:rr:<skill>:<min>  zset every staff member with the skill, by last offer from this queue
--   p:q:fo:<skill>:<min>:<day>  zset the same by offers that day * 1e13 + last_end
--   p:day              string  the day of the fo queues
--   p:claims:<id>      zset    open offers (call-id -> until) of someone with max_offers > 1
--   p:calls            stream  one record per routed INVITE (history: reports), one field
--                              v = "<call hash>\t<number>\t<option>\t<skill>\t<outcome>\t<offered>
--                              \t<caller hash>[\t<ms>[\t<status>]]" (no caller number, no Call-ID;
--                              <ms>, the proxy's clock, when the proxy wrote it later, in a batch)
--   p:presence         stream  each presence change: i id, f from, t to, w why, a actor
--   p:call:<call-id>   string  decision: "<caller|->\t#<until>\t<id>\t<contact>..." (TTL)
--   p:caller:<hash>    string  "<at-ms> <site> <id>", the last person offered this caller (TTL)
--   p:v                string  "3": the site's keys are in this layout (migrated from 2;
--                              version 4 needs no migration of its own: see p:on)
--
local VERSION = '4'
local PLAN_VERSION = '3' -- the plan's protocol (fd_pick's third argument): unchanged in 4
local PRESENCE_MAX = '100000' -- presence history kept per site, about (XADD MAXLEN ~)
local STATES = { available = true, busy = true, ['break'] = true,
                 wrapup = true, offline = true }
local CODES = { longest_idle = 'li', round_robin = 'rr', most_skilled = 'ms', fewest_offers = 'fo' }
local NAMES = { li = 'longest_idle', rr = 'round_robin', ms = 'most_skilled', fo = 'fewest_offers' }
local SCALE = 1e13 -- above any ms timestamp: composite scores
local SCALE_S = '10000000000000'
local MAX_SCAN = 256 -- queue members looked at per step, at most

-- Small integers as the strings redis.call wants (a number argument is
-- formatted with "%.17g" by the bridge, dearer than a small command).
local INT = {}
for n = 0, 1023 do INT[n] = '' .. n end

-- Lua's own functions, and redis.call, as locals of the library: a
-- function's globals are looked up through a metatable at every use, and
-- they are not reachable while the library loads, so entry() sets these on
-- the first call.
local function lua_globals() -- above the locals below: these are the globals
    return ipairs, pairs, tonumber, tostring, type, unpack, string, math, table, cjson
end
local ipairs, pairs, tonumber, tostring, type, unpack, string, math, table, cjson
local find, sub, match, gmatch, concat, floor, byte
local call, pcall_redis

-- A pure function of one string, remembered across calls (the values seen
-- are few: sites, skill lists, the proxy's plans); bounded all the same.
local function memo(fn)
    local m, n = {}, 0
    return function(s)
        if s == nil then return nil end
        local v = m[s]
        if v == nil then
            v = fn(s)
            if v == nil then v = false end
            if n >= 1024 then m, n = {}, 0 end
            m[s], n = v, n + 1
        end
        return v or nil
    end
end

local function err(msg) return redis.error_reply('ERR frontdesk: ' .. msg) end

local site_of = memo(function(prefix) return string.match(prefix, '^fd:{([%w_-]+)}$') end)
local good_name = memo(function(s) return string.match(s, '^[%w_-]+$') ~= nil and #s <= 32 end)

local function bad_id(what, s)
    if type(s) ~= 'string' or #s == 0 or #s > 64 or not match(s, '^[%w_.@-]+$') then
        return err('bad ' .. what .. ' "' .. tostring(s) .. '"')
    end
    return nil
end

-- TIME as ms: its 13-digit decimal string (compared as strings with other
-- such strings: same length until the year 2286) and the number.
local PAD = { '00', '0', '' }
local function clock()
    local t = call('TIME')
    local us = t[2]
    local ms = #us > 3 and sub(us, 1, #us - 3) or '0'
    local s = t[1] .. PAD[#ms] .. ms
    return s, tonumber(s)
end

-- a ms count as a plain decimal string (tostring would give 1.8e+12 forms
-- past 14 digits)
local function ms_text(n) return string.format('%d', n) end

-- "billing:3,scheduling:5" -> { billing = 3, scheduling = 5 }, or nil + error
local function parse_skills(csv)
    local skills = {}
    if csv == '' then return skills end
    for item in gmatch(csv, '[^,]+') do
        local name, level = match(item, '^([%w_-]+):([1-5])$')
        if not name then
            name = match(item, '^([%w_-]+)$')
            level = '3'
        end
        if not name or #name > 32 then
            return nil, 'bad skill "' .. item .. '" (want name or name:1-5)'
        end
        skills[name] = tonumber(level)
    end
    return skills
end
local levels_of = memo(function(csv) return parse_skills(csv) or {} end)

local function staff_key(p, id) return p .. ':staff:' .. id end

-- KEYS[1] and the staff id of a function about one person: p, id, or an
-- error reply as third result.
local function staff_args(keys, args)
    local p, id = keys[1], args[1]
    if not site_of(p) then return nil, nil, err('KEYS[1] must be fd:{<site>}') end
    local e = bad_id('staff id', id)
    if e then return nil, nil, e end
    return p, id
end

-- An optional actor (who made a presence change, as the dashboard names
-- them): printable, up to 64 bytes. The actor, or an error reply second.
local function actor_arg(a)
    if a == nil or a == '' then return '' end
    if #a > 64 or find(a, '%c') then return nil, err('bad actor (printable, up to 64 bytes)') end
    return a
end

-- A presence change of <id> at <p>: appended to the site's presence
-- history (bounded) and announced on fd:events.
local function publish(p, id, from, state, reason, actor)
    local nows = clock()
    call('XADD', p .. ':presence', 'MAXLEN', '~', PRESENCE_MAX, '*', 'i', id, 'f', from or '',
         't', state, 'w', reason or '', 'a', actor or '')
    call('PUBLISH', 'fd:events', cjson.encode({
        site = site_of(p), staff = id, from = from or '', state = state, reason = reason or '',
        actor = actor or '', at = tonumber(nows) }))
end

-- ------------------------------------------------------------------------
-- The value of p:on: "<until> <contact>[ <max>]"
-- ------------------------------------------------------------------------

-- contact and max (a number) of an on-value: version 4's "<contact>[ <max>]"
-- (a contact starts with "sip"), or version 3's "<until> <contact>[ <max>]"
-- (starts with a digit; the until is not ours to trust: see p:on above)
local function on_parse(v)
    if byte(v, 1) <= 57 then v = sub(v, find(v, ' ', 1, true) + 1) end
    local b = find(v, ' ', 1, true)
    if b then return sub(v, 1, b - 1), tonumber(sub(v, b + 1)) end
    return v, 1
end

local function on_value(contact, max)
    if max and max > 1 then return contact .. ' ' .. max end
    return contact
end

-- Is someone whose claim (p:claim) is <c> free at <nows>?
local function is_free(c, nows) return not c or c < nows end

-- ------------------------------------------------------------------------
-- Queues: which exist at a site, who belongs in one, with what score
-- ------------------------------------------------------------------------

-- "li:billing:2" -> { code, skill, min, name }
local queue_spec = memo(function(name)
    local code, skill, min = string.match(name, '^(%a%a):([%w_-]+):([1-5])$')
    if not code or not NAMES[code] then return nil end
    return { code = code, skill = skill, min = tonumber(min), name = name }
end)

local function queue_key(p, q, day)
    local k = p .. ':q:' .. q.name
    if q.code == 'fo' then k = k .. ':' .. (day or '0') end
    return k
end

-- Has staff hash <h> the skill of queue <q> at its level or more?
local function qualifies(q, h)
    local level = h and levels_of(h.skills or '')[q.skill]
    return level ~= nil and level >= q.min, level
end

-- The score of staff hash <h> in queue <q> (a string), or nil when they do
-- not belong in it: every queue holds the available people with the skill
-- at the level, in its strategy's order. Round robin and fewest offers add
-- what the queue counted for the person: <kept>, the last offer's time
-- (rr) or the offers that day (fo), as a string; kept while they are away
-- (sync), so a call in between does not reset the rotation.
local function queue_score(q, h, kept)
    local ok, level = qualifies(q, h)
    if not ok or h.state ~= 'available' then return nil end
    local last_end = h.last_end or '0'
    if q.code == 'li' then return last_end end
    if q.code == 'ms' then return ms_text((5 - level) * SCALE + (tonumber(last_end) or 0)) end
    if q.code == 'rr' then return kept or '0' end
    return ms_text((tonumber(kept or '0') or 0) * SCALE + (tonumber(last_end) or 0))
end

-- What queue <q> counted for a member whose score is <score> (rr, fo).
local function kept_of(q, score)
    if q.code == 'rr' then return score end
    return ms_text(floor((tonumber(score) or 0) / SCALE))
end

local F_SYNC = { 'contact', 'skills', 'state', 'last_end', 'max_offers' }

local function load_staff(p, id)
    local v = call('HMGET', staff_key(p, id), unpack(F_SYNC))
    if not v[1] then return nil end
    return { contact = v[1], skills = v[2] or '', state = v[3] or 'offline', last_end = v[4] or '0',
             max_offers = tonumber(v[5] or '1') or 1 }
end

-- Put <id> of site <p> where their staff hash says, in every queue of the
-- site and in p:on (nil <h>: removed). Idempotent: every presence write
-- ends with it. A reservation (p:claim) is not the presence writers' to
-- touch: it lapses by itself, offer-ms after the pick made it.
-- Round robin and fewest offers keep what they counted for someone who is
-- away in the queue's "<key>:away" hash, and give it back on return.
local function sync(p, id, h)
    local day
    for _, name in ipairs(call('SMEMBERS', p .. ':queues')) do
        local q = queue_spec(name)
        if q then
            if q.code == 'fo' and not day then day = call('GET', p .. ':day') or '0' end
            local key = queue_key(p, q, day)
            if q.code == 'li' or q.code == 'ms' then
                local s = h and queue_score(q, h, nil)
                if s then call('ZADD', key, s, id) else call('ZREM', key, id) end
            else
                local cur = call('ZSCORE', key, id) -- false when not a member
                local kept = cur and kept_of(q, cur) or nil
                if not cur and h then kept = call('HGET', key .. ':away', id) or nil end
                local s = h and queue_score(q, h, kept)
                if s then
                    if s ~= cur then call('ZADD', key, s, id) end
                    if not cur then call('HDEL', key .. ':away', id) end
                else
                    if cur then call('ZREM', key, id) end
                    if cur and qualifies(q, h) then call('HSET', key .. ':away', id, kept)
                    elseif not qualifies(q, h) then call('HDEL', key .. ':away', id) end
                end
            end
        end
    end
    if h and h.state == 'available' then
        call('HSET', p .. ':on', id, on_value(h.contact, h.max_offers))
    else
        call('HDEL', p .. ':on', id)
    end
end

-- The members of queue <q> at <p>, built from the staff hashes (rr, fo:
-- with what <kept> says the queue counted for them): { id, score, h }...
local function queue_members(p, q, kept)
    local out = {}
    for _, id in ipairs(call('SMEMBERS', p .. ':staff')) do
        local h = load_staff(p, id)
        local s = h and queue_score(q, h, kept and kept[id])
        if s then out[#out + 1] = { id = id, s = s, h = h } end
    end
    return out
end

local function zadd_all(key, members)
    local args, n = { key }, 1
    for _, m in ipairs(members) do
        args[n + 1], args[n + 2], n = m.s, m.id, n + 2
        if n >= 512 then call('ZADD', unpack(args, 1, n)); n = 1 end
    end
    if n > 1 then call('ZADD', unpack(args, 1, n)) end
end

-- ------------------------------------------------------------------------
-- From contract version 2: a site is moved to this layout the first time a
-- function touches it. Presence and skills are in the staff hashes in
-- both, so nothing of them is lost; offers still open stay open.
-- ------------------------------------------------------------------------

local V2_CODES = { 'li', 'rr', 'ms', 'fo' }

local function migrate(p)
    if call('EXISTS', p .. ':v') == 1 then return end
    local open = {}
    local off = call('ZRANGE', p .. ':offered', '0', '-1', 'WITHSCORES')
    for i = 1, #off, 2 do open[off[i]] = ms_text(tonumber(off[i + 1]) or 0) end
    local skills = {}
    for _, id in ipairs(call('SMEMBERS', p .. ':staff')) do
        local h = load_staff(p, id)
        if h then
            for name in pairs(levels_of(h.skills)) do skills[name] = true end
            if h.state == 'available' then
                -- version 2 kept a person with open offers out of the sets
                -- only once full: so do we (their offers' calls are not
                -- known one by one, so they are held until the last lapses)
                local n_open = tonumber(call('HGET', staff_key(p, id), 'open_offers') or '0') or 0
                local until_s = n_open >= h.max_offers and open[id] or '0'
                call('HSET', p .. ':on', id, on_value(h.contact, h.max_offers))
                -- kept when the migrating user may claim (a proxy), else
                -- dropped (a dashboard's presence write: it may not)
                if until_s ~= '0' then pcall_redis('HSET', p .. ':claim', id, until_s) end
            end
            call('HDEL', staff_key(p, id), 'open_offers', 'offers')
        end
    end
    local old = { p .. ':offered', p .. ':strats' }
    for name in pairs(skills) do
        for _, c in ipairs(V2_CODES) do old[#old + 1] = p .. ':avail:' .. c .. ':' .. name end
    end
    call('DEL', unpack(old))
    call('SET', p .. ':v', VERSION)
end

local roll_day

-- What p:on would say of <ids> at a site still in version 2's layout, for
-- read-only calls that cannot migrate it (fd_peek right after an upgrade):
-- from the staff hashes and their open offers.
local function v2_on(p, ids)
    local out = {}
    for i, id in ipairs(ids) do
        local h = call('HMGET', staff_key(p, id), 'contact', 'state', 'max_offers', 'open_offers')
        local max = tonumber(h[3] or '1') or 1
        if h[1] and h[2] == 'available' and (tonumber(h[4] or '0') or 0) < max then
            out[i] = on_value(h[1], max)
        else
            out[i] = false
        end
    end
    return out
end

-- The p:on entries of <ids> at <p>: migrating the site first when it is
-- still in version 2's layout (read from the staff hashes instead when
-- <dry>). Only called where p:on came back empty-handed.
local function on_fallback(p, ids, dry)
    if call('EXISTS', p .. ':v') == 1 then return nil end
    if dry then return v2_on(p, ids) end
    migrate(p)
    return call('HMGET', p .. ':on', unpack(ids))
end

-- Start keeping queue <q> at <p> (the first pick that needs it), for <day>
-- (or the newer day the site's fewest-offers queues are on). Its key.
local function add_queue(p, q, day)
    migrate(p)
    if q.code == 'fo' then day = roll_day(p, day) end
    call('SADD', p .. ':queues', q.name)
    local key = queue_key(p, q, day)
    zadd_all(key, queue_members(p, q, nil))
    return key
end

-- A new day at a site with fewest-offers queues: each starts afresh (one
-- build a day). Sites in other time zones share pools: the day only moves
-- forward; a site still on the day before uses the newer one.
function roll_day(p, day)
    local stored = call('GET', p .. ':day') or '0'
    if #day < #stored or (#day == #stored and day <= stored) then return stored end
    for _, name in ipairs(call('SMEMBERS', p .. ':queues')) do
        local q = queue_spec(name)
        if q and q.code == 'fo' then
            local old = queue_key(p, q, stored)
            call('DEL', old, old .. ':away')
            zadd_all(queue_key(p, q, day), queue_members(p, q, nil))
        end
    end
    call('SET', p .. ':day', day)
    return day
end

-- ------------------------------------------------------------------------
-- The pick
-- ------------------------------------------------------------------------

-- The plan of fd_pick, one string (contract version 3), remembered parsed:
--   "3|<k>|<offer-ms>|<ttl-ms>|<window-s>|<day>|<key-index>:<skill>:<code>:<min>|..."
-- <code>: li longest idle, rr round robin, ms most skilled, fo fewest offers.
local function split(s, sep)
    local f, i = {}, 1
    while true do
        local j = find(s, sep, i, true)
        if not j then f[#f + 1] = sub(s, i); return f end
        f[#f + 1] = sub(s, i, j - 1)
        i = j + 1
    end
end

local parse_plan = memo(function(s)
    local f = split(s, '|')
    if f[1] ~= PLAN_VERSION then
        return { e = 'plan of protocol "' .. tostring(f[1]) .. '", want ' .. PLAN_VERSION }
    end
    -- plain decimal integers only: they go to Redis as they are (PX)
    local function int(x) return x and #x <= 12 and string.match(x, '^%d+$') and tonumber(x) end
    local k, offer, ttl, window = int(f[2]), int(f[3]), int(f[4]), int(f[5])
    if not k or k < 1 or k > 5 or not offer or offer < 1 or not ttl or ttl < 1 or not window or
       #f < 7 or #f > 14 or not string.match(f[6], '^%d*$') or #f[6] > 8 then
        return { e = 'bad plan "' .. s .. '"' }
    end
    local plan = { k = k, offer = offer, ttl = f[4], window_ms = window * 1000,
                   window_px = string.format('%d', math.max(window, 1) * 1000),
                   day = f[6] ~= '' and f[6] or '0', steps = {} }
    for i = 7, #f do
        local ki, skill, code, min = string.match(f[i], '^([1-9]%d?):([%w_-]+):(%a%a):([1-5])$')
        if not ki or not NAMES[code] or #skill > 32 then return { e = 'bad chain step ' .. (i - 6) } end
        local q = queue_spec(code .. ':' .. skill .. ':' .. min)
        plan.steps[#plan.steps + 1] = { ki = tonumber(ki), q = q }
    end
    return plan
end)

-- The same plan from contract version 2's arguments (proxies of the
-- version before, during a rolling upgrade):
--   <call-id> <k> <offer-ms> <ttl-ms> <caller> <window-s> <day> <nsteps> {<ki> <skill> <strategy> <min>}...
local function plan_from_v2(args)
    local n = tonumber(args[8] or '')
    if not n or #args ~= 8 + 4 * n then return nil end
    local f = { PLAN_VERSION, args[2], args[3], args[4], args[6], args[7] }
    for s = 1, n do
        local b = 8 + 4 * (s - 1)
        f[#f + 1] = args[b + 1] .. ':' .. args[b + 2] .. ':' .. (CODES[args[b + 3]] or '?') .. ':' .. args[b + 4]
    end
    return concat(f, '|'), args[5]
end

-- The reply for a recorded decision "<caller|->\t#<until>\t<id>\t<contact>..."
-- (version 2 records have no #<until>).
local function recorded_reply(rec)
    local out, i = { 'recorded' }, 0
    for f in gmatch(rec, '[^\t]+') do
        i = i + 1
        if i > 1 and sub(f, 1, 1) ~= '#' then out[#out + 1] = f end
    end
    if #out == 1 then out[1] = 'none' end
    return out
end

-- fd_pick's optional fourth argument: what the site's call history
-- (p:calls) keeps of the call, "<keep>\t<number>\t<option>\t<skill>";
-- <keep> is "d<ms>" (records younger than that: XADD MINID ~) or "n<count>"
-- (about that many: MAXLEN ~). Remembered parsed.
local parse_record = memo(function(s)
    local keep, number, option, skill = string.match(s, '^([dn]%d+)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
    if not keep or #s > 160 or #keep > 14 then return nil end
    local n = tonumber(string.sub(keep, 2))
    if n < 1 then return nil end
    local mid = '\t' .. number .. '\t' .. option .. '\t' .. skill .. '\t'
    if string.sub(keep, 1, 1) == 'n' then return { trim = 'MAXLEN', bound = string.sub(keep, 2), mid = mid } end
    return { trim = 'MINID', keep = n, mid = mid }
end)

-- Queue <q> of <p> ranked by a scan of the staff (fd_peek before any pick
-- kept that queue): the ids, best first.
local function ranked_by_scan(p, q)
    local all = queue_members(p, q, nil)
    for _, m in ipairs(all) do m.n = tonumber(m.s) or 0 end
    table.sort(all, function(a, b) return a.n < b.n or (a.n == b.n and a.id < b.id) end)
    local ids = {}
    for i, m in ipairs(all) do
        if i > MAX_SCAN then break end -- as far as a pick would look
        ids[i] = m.id
    end
    return ids
end

-- Keys of a site built once: p:on, p:claim, p:call:, p:caller:, p:calls, and each queue's
-- (fo queues add the day). Bounded like memo().
local site_keys, site_keys_n = {}, 0
local function keys_of(p)
    local k = site_keys[p]
    if not k then
        if site_keys_n >= 4096 then site_keys, site_keys_n = {}, 0 end
        k = { on = p .. ':on', claim = p .. ':claim', call = p .. ':call:', caller = p .. ':caller:',
              calls = p .. ':calls', site = site_of(p), q = {} }
        site_keys[p], site_keys_n = k, site_keys_n + 1
    end
    return k
end

-- How many members of a queue the last pick had to pass (offered): the
-- next pick of that queue reads that many more at once. A hint only.
local skipped, skipped_n = {}, 0

-- One pick (or a dry run: fd_peek). See fd_pick below.
local function walk(keys, args, dry)
    local home = keys[1]
    for i = 1, #keys do
        if not site_of(keys[i]) then return err('every key must be fd:{<site>}') end
    end
    local callid, caller, spec, record = args[1], args[2], args[3], args[4]
    if #args ~= 3 and #args ~= 4 then
        spec, caller, record = plan_from_v2(args)
        if not spec then return err('usage: fd_pick N keys... call-id caller plan') end
    end
    if type(callid) ~= 'string' or #callid == 0 or #callid > 256 then return err('bad call-id') end
    if #caller > 64 then return err('bad caller hash') end
    local hist = record and parse_record(record)
    if record and not hist then return err('bad history record "' .. record .. '"') end
    local plan = parse_plan(spec)
    if plan.e then return err(plan.e) end
    local steps = plan.steps
    for i = 1, #steps do
        if steps[i].ki > #keys then return err('bad chain step: key index ' .. steps[i].ki) end
    end

    local nows, now = clock()
    local until_s = string.format('%d', now + plan.offer)
    local k, nchosen, why = plan.k, 0, dry and {}
    -- the reply as it grows: outcome, then id, contact pairs
    local out = { 'none' }
    -- per site of a chosen person: taken[p] = { id = true }, and the HSET
    -- of p:claim that reserves them: rsv[p] = { p:claim, id, until, ... }
    local taken, rsv = {}, {}
    local multi, queued -- rare: people who take several calls; rr/fo steps
    local hk = keys_of(home)

    -- caller-aware: the person offered this caller last, if free
    local ck = caller ~= '' and plan.window_ms > 0 and (hk.caller .. caller)
    if ck then
        local v = pcall_redis('GET', ck)
        local at, s, id
        if type(v) == 'string' then
            at, s, id = match(v, '^(%d+) ([%w_-]+) (.+)$')
        elseif type(v) == 'table' and v.err then -- contract version 2 kept a hash
            local h = call('HMGET', ck, 'at', 'site', 'staff')
            at, s, id = h[1], h[2], h[3]
        end
        if at and id and now - (tonumber(at) or 0) <= plan.window_ms then
            local p = 'fd:{' .. s .. '}'
            local pk = keys_of(p)
            local ov = call('HGET', pk.on, id)
            if not ov then ov = (on_fallback(p, { id }, dry) or {})[1] end
            if ov and is_free(call('HGET', pk.claim, id), nows) then
                local contact, max = on_parse(ov)
                nchosen = 1
                out[2], out[3] = (p == home) and id or (s .. '/' .. id), contact
                taken[p] = { [id] = true }
                if why then why[1] = 'caller-aware: handled this caller last' end
                if max > 1 then multi = { { p, id, max, contact } }
                else rsv[p] = { pk.claim, id, until_s } end
            end
        end
    end

    for n = 1, #steps do
        local want = k - nchosen
        if want <= 0 then break end
        local st = steps[n]
        local p, q = keys[st.ki], st.q
        local pk = keys_of(p)
        local key = pk.q[q.name] -- (fo: its day changes, never kept)
        if not key then
            key = queue_key(p, q, plan.day)
            if q.code ~= 'fo' then pk.q[q.name] = key end
        end
        local hint = skipped[key] or 0
        local from, size, whole, got, passed = 0, want + hint, false, 0, 0
        local t = taken[p]
        while true do
            local ids = call('ZRANGE', key, INT[from] or from, INT[from + size - 1] or (from + size - 1))
            if #ids == 0 and from == 0 then
                -- a queue nobody kept yet, an empty one, or a new day
                if dry then
                    if call('SISMEMBER', p .. ':queues', q.name) == 0 or q.code == 'fo' then
                        ids, whole = ranked_by_scan(p, q), true
                    end
                elseif call('SISMEMBER', p .. ':queues', q.name) == 0 then
                    key = add_queue(p, q, plan.day)
                    ids = call('ZRANGE', key, INT[0], INT[size - 1] or (size - 1))
                elseif q.code == 'fo' then
                    key = queue_key(p, q, roll_day(p, plan.day))
                    ids = call('ZRANGE', key, INT[0], INT[size - 1] or (size - 1))
                end
                if q.code ~= 'fo' then pk.q[q.name] = key end
            end
            local nids = #ids
            if nids == 0 then break end
            local on = call('HMGET', pk.on, unpack(ids))
            if dry and not on[1] then on = on_fallback(p, ids, true) or on end
            local cl = call('HMGET', pk.claim, unpack(ids))
            for i = 1, nids do
                local v, id = on[i], ids[i]
                if v and not (t and t[id]) and is_free(cl[i], nows) then
                    local contact, max = on_parse(v)
                    nchosen, got, want = nchosen + 1, got + 1, want - 1
                    out[2 * nchosen], out[2 * nchosen + 1] = (p == home) and id or (pk.site .. '/' .. id), contact
                    if not t then t = {}; taken[p] = t end
                    t[id] = true
                    if why then
                        why[nchosen] = string.format('step %d: %s at %s, %s, level %s >= %d', n, q.skill,
                            pk.site, NAMES[q.code],
                            tostring(levels_of(call('HGET', staff_key(p, id), 'skills') or '')[q.skill]), q.min)
                    end
                    if max > 1 then
                        multi = multi or {}
                        multi[#multi + 1] = { p, id, max, contact }
                    else
                        local r = rsv[p]
                        if r then r[#r + 1] = id; r[#r + 1] = until_s
                        else rsv[p] = { pk.claim, id, until_s } end
                    end
                    if queued or q.code == 'rr' or q.code == 'fo' then
                        queued = queued or {}
                        queued[#queued + 1] = { key, q.code, id }
                    end
                    if want == 0 then break end
                else
                    passed = passed + 1 -- offered, not available, or taken
                end
            end
            if want == 0 or whole or nids < size or from + nids >= MAX_SCAN then break end
            from, size = from + nids, size * 2
        end
        if not dry and passed ~= hint then
            if skipped[key] == nil then
                if skipped_n >= 4096 then skipped, skipped_n = {}, 0 end
                skipped_n = skipped_n + 1
            end
            skipped[key] = passed < 32 and passed or 32
        end
    end

    if dry then
        local explained = {}
        for i = 1, #why do
            explained[#explained + 1] = out[2 * i]
            explained[#explained + 1] = out[2 * i + 1]
            explained[#explained + 1] = why[i]
        end
        return explained
    end

    -- the decision, recorded unless one is already (a retransmission: the
    -- same answer again, nobody reserved twice)
    local rec = call('SET', hk.call .. callid,
                     (caller ~= '' and caller or '-') .. '\t#' .. until_s .. '\t' .. concat(out, '\t', 2),
                     'NX', 'GET', 'PX', plan.ttl)
    if rec then return recorded_reply(rec) end
    if hist then
        -- about one call in a hundred (its ms ending in 00) trims the stream:
        -- a trim costs as much as the append
        local v = callid .. hist.mid .. (nchosen > 0 and 'staff\t' or 'nobody\t') .. INT[nchosen] .. '\t' .. caller
        if byte(nows, 13) == 48 and byte(nows, 12) == 48 then
            call('XADD', hk.calls, hist.trim, '~', hist.bound or ms_text(now - hist.keep), '*', 'v', v)
        else
            call('XADD', hk.calls, '*', 'v', v)
        end
    end
    if nchosen == 0 then return out end
    out[1] = 'picked'

    for _, r in pairs(rsv) do call('HSET', unpack(r)) end
    if multi then
        for _, m in ipairs(multi) do
            local p, id, max, contact = m[1], m[2], m[3], m[4]
            local ok = p .. ':claims:' .. id
            call('ZREMRANGEBYSCORE', ok, '-inf', nows)
            call('ZADD', ok, until_s, callid)
            -- lapses with its latest offer (never shortened: proxies may
            -- run with other offer windows)
            if call('PTTL', ok) < plan.offer then call('PEXPIRE', ok, plan.offer) end
            if call('ZCARD', ok) >= max then
                local first = call('ZRANGE', ok, '0', '0', 'WITHSCORES')
                call('HSET', keys_of(p).claim, id, ms_text(tonumber(first[2]) or now))
            end
        end
    end
    if queued then
        for _, qd in ipairs(queued) do
            if qd[2] == 'rr' then call('ZADD', qd[1], 'XX', nows, qd[3])
            elseif qd[2] == 'fo' then call('ZINCRBY', qd[1], SCALE_S, qd[3]) end
        end
    end
    if ck then
        local first = out[2]
        local s, id = match(first, '^([%w_-]+)/(.+)$')
        if not s then s, id = hk.site, first end
        call('SET', ck, nows .. ' ' .. s .. ' ' .. id, 'PX', plan.window_px)
    end
    return out
end

-- FCALL fd_pick N <prefix1..prefixN> <call-id> <caller-hash|""> <plan>
-- <plan> as parse_plan says; a step's key index points into KEYS. Returns
-- the decision already recorded for <call-id> (under KEYS[1]), or walks
-- the chain: the caller's last person first (caller-aware, if free and
-- within the window), then each step's queue, until <k> staff are found;
-- reserves them for <offer-ms>, records the decision for <ttl-ms> and, for
-- a known caller, whom they were offered first.
-- Reply: { "picked"|"recorded"|"none", id1, contact1, id2, contact2, ... }
-- where an id of another site than KEYS[1]'s reads "<site>/<id>".
local function fd_pick(keys, args) return walk(keys, args, false) end

-- FCALL_RO fd_peek: the arguments of fd_pick; who fd_pick would offer the
-- call to now, without reserving anyone or recording anything (explain).
-- Reply: { id1, contact1, why1, id2, contact2, why2, ... }.
local function fd_peek(keys, args) return walk(keys, args, true) end

-- FCALL fd_release 1 fd:{site} <call-id>
-- The proxy answered <call-id> with its fallback before fd_pick's reply
-- came (a deadline passed): nobody rings for that decision, so free the
-- people it reserved, record that nobody was offered (retransmissions then
-- get the same fallback the caller already has) and forget the caller's
-- memory it wrote. Returns how many were released.
local function fd_release(keys, args)
    local home, callid = keys[1], args[1]
    if not site_of(home) then return err('KEYS[1] must be fd:{<site>}') end
    if type(callid) ~= 'string' or #callid == 0 or #callid > 256 then return err('bad call-id') end
    local ck = home .. ':call:' .. callid
    local rec = call('GET', ck)
    if not rec then return 0 end
    local fields = {}
    for f in gmatch(rec, '[^\t]+') do fields[#fields + 1] = f end
    local nows = clock()
    local rec_until, first = nil, 2
    if fields[2] and sub(fields[2], 1, 1) == '#' then rec_until, first = sub(fields[2], 2), 3 end
    local released = 0
    -- is <u> the until this decision reserved with (records of contract
    -- version 2 have none: any reservation still open)?
    local function ours(c) return c and ((rec_until and c == rec_until) or (not rec_until and c > nows)) end
    for i = first, #fields, 2 do
        local s, id = match(fields[i], '^([%w_-]+)/(.+)$')
        local p = s and ('fd:{' .. s .. '}') or home
        id = id or fields[i]
        local v = call('HGET', p .. ':on', id)
        if v then
            local _, max = on_parse(v)
            local c = call('HGET', p .. ':claim', id)
            if max > 1 then
                local ok = p .. ':claims:' .. id
                if call('ZREM', ok, callid) == 1 then
                    released = released + 1
                    call('ZREMRANGEBYSCORE', ok, '-inf', nows)
                    if c and call('ZCARD', ok) < max then call('HDEL', p .. ':claim', id) end
                end
            elseif ours(c) then
                released = released + 1
                call('HDEL', p .. ':claim', id)
            end
        end
    end
    call('SET', ck, (fields[1] or '-') .. '\t#0', 'KEEPTTL')
    if fields[1] and fields[1] ~= '-' then call('DEL', home .. ':caller:' .. fields[1]) end
    return released
end

-- FCALL_RO fd_decision 1 fd:{site} <call-id>
-- The decision fd_pick recorded for <call-id>, reserving no one: in forward
-- mode the CANCEL and the ACK of an INVITE go where the INVITE went.
-- Reply: { 'recorded', id1, contact1, ... }, or { 'none' } when nothing is
-- recorded (expired, never picked, or nobody was offered).
local function fd_decision(keys, args)
    local home, callid = keys[1], args[1]
    if not site_of(home) then return err('KEYS[1] must be fd:{<site>}') end
    if type(callid) ~= 'string' or #callid == 0 or #callid > 256 then return err('bad call-id') end
    local rec = call('GET', home .. ':call:' .. callid)
    if not rec then return { 'none' } end
    return recorded_reply(rec)
end

-- ------------------------------------------------------------------------
-- Presence: what dashboards call
-- ------------------------------------------------------------------------

local function fd_version(keys, args)
    return VERSION
end

-- Every presence write takes an optional last argument <actor>: who made
-- the change, as the dashboard names them (kept in p:presence).

-- FCALL fd_staff_set 1 fd:{site} <id> <contact-uri> <skills> [<state> [<max-offers> [<actor>]]]
-- Adds or replaces a staff member. <skills>: "billing:3,scheduling:5";
-- <max-offers>: calls that may ring them at once (1 to 10, default 1).
local function fd_staff_set(keys, args)
    local p = keys[1]
    if not site_of(p) then return err('KEYS[1] must be fd:{<site>}') end
    local id, contact, csv, state = args[1], args[2], args[3] or '', args[4] or 'offline'
    local max_offers = tonumber(args[5] or '1')
    if not max_offers or max_offers < 1 or max_offers > 10 or max_offers ~= math.floor(max_offers) then
        return err('max offers must be 1 to 10')
    end
    local e = bad_id('staff id', id); if e then return e end
    if type(contact) ~= 'string' or not match(contact, '^sips?:[^%s<>"]+$') or #contact > 250 then
        return err('contact must be a sip: or sips: URI')
    end
    local skills, perr = parse_skills(csv)
    if not skills then return err(perr) end
    if not STATES[state] then return err('bad state "' .. state .. '"') end
    local actor, ae = actor_arg(args[6]); if ae then return ae end
    migrate(p)
    local sk = staff_key(p, id)
    local from = call('HGET', sk, 'state') or ''
    call('HSET', sk, 'contact', contact, 'skills', csv, 'state', state, 'updated', clock(),
         'max_offers', max_offers)
    call('HSETNX', sk, 'last_end', '0')
    call('SADD', p .. ':staff', id)
    sync(p, id, load_staff(p, id))
    publish(p, id, from, state, 'staff set', actor)
    return 'OK'
end

-- FCALL fd_presence 1 fd:{site} <id> <state> [<reason> [<actor>]]
-- Sets a staff member's state. Leaving busy or wrapup for available records
-- the end of a call, so longest-idle picks stay true.
local function fd_presence(keys, args)
    local p, id, e = staff_args(keys, args)
    if e then return e end
    local state, reason = args[2], args[3]
    local actor, ae = actor_arg(args[4]); if ae then return ae end
    if not STATES[state or ''] then
        return err('bad state "' .. tostring(state) .. '" (want available, busy, break, wrapup or offline)')
    end
    local sk = staff_key(p, id)
    local old = call('HGET', sk, 'state')
    if not old then return err('no staff "' .. id .. '" at this site') end
    migrate(p)
    local now = clock()
    if state == 'available' and (old == 'busy' or old == 'wrapup') then
        call('HSET', sk, 'last_end', now)
    end
    call('HSET', sk, 'state', state, 'reason', reason or '', 'updated', now)
    sync(p, id, load_staff(p, id))
    publish(p, id, old, state, reason, actor)
    return 'OK'
end

-- FCALL fd_call_end 1 fd:{site} <id> [<actor>]
-- A call of <id> ended: their idle time starts now (longest-idle) and they
-- are available again (an open offer, if any, still holds them until it
-- lapses).
local function fd_call_end(keys, args)
    local p, id, e = staff_args(keys, args)
    if e then return e end
    local actor, ae = actor_arg(args[2]); if ae then return ae end
    local sk = staff_key(p, id)
    local from = call('HGET', sk, 'state')
    if not from then return err('no staff "' .. id .. '" at this site') end
    migrate(p)
    local now = clock()
    call('HSET', sk, 'last_end', now, 'state', 'available', 'updated', now)
    sync(p, id, load_staff(p, id))
    publish(p, id, from, 'available', 'call ended', actor)
    return 'OK'
end

-- FCALL fd_staff_remove 1 fd:{site} <id> [<actor>]
local function fd_staff_remove(keys, args)
    local p, id, e = staff_args(keys, args)
    if e then return e end
    local actor, ae = actor_arg(args[2]); if ae then return ae end
    local from = call('HGET', staff_key(p, id), 'state')
    if not from then return err('no staff "' .. id .. '" at this site') end
    migrate(p)
    sync(p, id, nil)
    call('DEL', staff_key(p, id))
    call('SREM', p .. ':staff', id)
    publish(p, id, from, 'removed', 'staff removed', actor)
    return 'OK'
end

-- FCALL fd_skills_set 1 fd:{site} <id> <skills> [<actor>]
local function fd_skills_set(keys, args)
    local p, id, e = staff_args(keys, args)
    if e then return e end
    local csv = args[2]
    local skills, perr = parse_skills(csv or '')
    if not skills or not csv then return err(perr or 'usage: fd_skills_set <id> <skills>') end
    local actor, ae = actor_arg(args[3]); if ae then return ae end
    local sk = staff_key(p, id)
    local state = call('HGET', sk, 'state')
    if not state then return err('no staff "' .. id .. '" at this site') end
    migrate(p)
    call('HSET', sk, 'skills', csv, 'updated', (clock()))
    sync(p, id, load_staff(p, id))
    publish(p, id, state, state, 'skills set', actor)
    return 'OK'
end

-- FCALL fd_migrate 1 fd:{site}: move the site's keys to this contract
-- version now (each function does it on first touch anyway). 1 if it
-- moved, 0 if it was already.
local function fd_migrate(keys, args)
    local p = keys[1]
    if not site_of(p) then return err('KEYS[1] must be fd:{<site>}') end
    if call('EXISTS', p .. ':v') == 1 then return 0 end
    migrate(p)
    return 1
end

-- FCALL_RO fd_staff_list 1 fd:{site}  ->  { id, state, skills, contact, ... }
local function fd_staff_list(keys, args)
    local p = keys[1]
    if not site_of(p) then return err('KEYS[1] must be fd:{<site>}') end
    local nows = clock()
    local out = {}
    local ids = call('SMEMBERS', p .. ':staff')
    table.sort(ids)
    local v3 = call('EXISTS', p .. ':v') == 1
    for _, id in ipairs(ids) do
        local h = call('HMGET', staff_key(p, id), 'state', 'skills', 'contact', 'max_offers', 'open_offers')
        local open = 0
        if v3 then
            local v = call('HGET', p .. ':on', id)
            if v then
                local _, max = on_parse(v)
                if max > 1 then open = call('ZCOUNT', p .. ':claims:' .. id, '(' .. nows, '+inf')
                elseif (call('HGET', p .. ':claim', id) or '0') > nows then open = 1 end
            end
        else
            open = tonumber(h[5]) or 0
        end
        out[#out + 1] = id
        out[#out + 1] = (h[1] or '?') .. (open > 0 and string.format(' (offered %d/%s)', open, h[4] or '1') or '')
        out[#out + 1] = h[2] or ''
        out[#out + 1] = h[3] or ''
    end
    return out
end

-- FCALL_RO fd_staff_board 1 fd:{site}  ->  { id, state, reason, skills, offered, ... }
-- Five fields a person, by id: what a reception board shows; <offered> is
-- "1" while an offer holds them (p:claim, or a multi-offer person's open
-- offers), else "0".
local function fd_staff_board(keys, args)
    local p = keys[1]
    if not site_of(p) then return err('KEYS[1] must be fd:{<site>}') end
    local nows = clock()
    local out = {}
    local ids = call('SMEMBERS', p .. ':staff')
    table.sort(ids)
    for _, id in ipairs(ids) do
        local h = call('HMGET', staff_key(p, id), 'state', 'reason', 'skills', 'max_offers')
        local offered = '0'
        if h[1] == 'available' then
            local max = tonumber(h[4] or '1') or 1
            if (call('HGET', p .. ':claim', id) or '0') > nows then offered = '1'
            elseif max > 1 and call('ZCOUNT', p .. ':claims:' .. id, '(' .. nows, '+inf') > 0 then offered = '1' end
        end
        out[#out + 1] = id
        out[#out + 1] = h[1] or 'offline'
        out[#out + 1] = h[2] or ''
        out[#out + 1] = h[3] or ''
        out[#out + 1] = offered
    end
    return out
end

-- FCALL_RO fd_staff_get 1 fd:{site} <id>  ->  flat hash of the staff member
local function fd_staff_get(keys, args)
    if not keys[1] or not site_of(keys[1]) then return err('KEYS[1] must be fd:{<site>}') end
    local e = bad_id('staff id', args[1]); if e then return e end
    return call('HGETALL', staff_key(keys[1], args[1]))
end

local function entry(fn)
    return function(keys, args)
        if not ipairs then
            ipairs, pairs, tonumber, tostring, type, unpack, string, math, table, cjson = lua_globals()
            find, sub, match, gmatch, concat, floor, byte = string.find, string.sub, string.match, string.gmatch,
                table.concat, math.floor, string.byte
        end
        call, pcall_redis = redis.call, redis.pcall
        return fn(keys, args)
    end
end

redis.register_function{ function_name = 'fd_version', callback = entry(fd_version),
                         flags = { 'no-writes', 'allow-stale' } }
redis.register_function('fd_staff_set', entry(fd_staff_set))
redis.register_function('fd_presence', entry(fd_presence))
redis.register_function('fd_pick', entry(fd_pick))
redis.register_function('fd_call_end', entry(fd_call_end))
redis.register_function('fd_release', entry(fd_release))
redis.register_function('fd_staff_remove', entry(fd_staff_remove))
redis.register_function('fd_skills_set', entry(fd_skills_set))
redis.register_function('fd_migrate', entry(fd_migrate))
redis.register_function{ function_name = 'fd_staff_list', callback = entry(fd_staff_list), flags = { 'no-writes' } }
redis.register_function{ function_name = 'fd_decision', callback = entry(fd_decision), flags = { 'no-writes' } }
redis.register_function{ function_name = 'fd_peek', callback = entry(fd_peek), flags = { 'no-writes' } }
redis.register_function{ function_name = 'fd_staff_board', callback = entry(fd_staff_board),
                         flags = { 'no-writes' } }
redis.register_function{ function_name = 'fd_staff_get', callback = entry(fd_staff_get),
                         flags = { 'no-writes' } }
