#!lua name=frontdesk
--
-- Frontdesk's Redis Functions library: the only way presence is written and
-- the one round trip an INVITE makes. Loaded by every proxy at connect with
-- FUNCTION LOAD REPLACE, so a restarted Redis gets it back by itself.
-- Keys and functions are documented in docs/redis.md; every key of a site
-- carries the hash tag {site}, and a site is always named to a function by
-- its prefix "fd:{<site>}" in KEYS.
--
local VERSION = '2'
local STATES = { available = true, busy = true, ['break'] = true,
                 wrapup = true, offline = true }
-- One availability set per skill and strategy, each ordered so that its
-- first member is the one the strategy picks (ZRANGE 0 k-1, O(log n)).
local STRATEGIES = { longest_idle = 'li', round_robin = 'rr',
                     most_skilled = 'ms', fewest_offers = 'fo' }
local SCALE = 1e13 -- above any ms timestamp: composite scores
local MIN_LEVEL_SCAN = 64 -- candidates looked at past a too-low level

-- Lua's own functions, and redis.call, as locals of the library: a
-- function's globals are looked up through a metatable at every use (a
-- pick makes hundreds of such lookups), and they are not reachable while
-- the library loads, so entry() sets these on the first call.
local function lua_globals() -- above the locals below: these are the globals
    return ipairs, pairs, tonumber, tostring, type, unpack, string, math, table, cjson
end
local ipairs, pairs, tonumber, tostring, type, unpack, string, math, table, cjson
local call

-- What a pick costs is mostly Lua and the Lua-to-Redis bridge, not the
-- commands (docs/decisions.md), so the hot path avoids the costly parts of
-- the bridge: a number passed to redis.call is formatted with "%.17g" and
-- tonumber() runs strtod, each dearer than a small command. Values travel as
-- the strings Redis gave (timestamps, scores) and small integers go through
-- this table.
local INT = {}
for n = 0, 127 do INT[n] = '' .. n end

-- A pure function of one string, remembered across calls (the values seen
-- are few: sites, skill lists, the proxy's arguments); bounded all the same.
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

local num = memo(function(s) return tonumber(s) end)
local int_text = memo(function(s) local n = tonumber(s); return n and string.format('%d', n) end)

-- TIME as ms: the number and its decimal string, built from TIME's digits.
local PAD = { '00', '0', '' }
local function clock()
    local t = call('TIME')
    local us = t[2]
    local ms = #us > 3 and string.sub(us, 1, #us - 3) or '0'
    local s = t[1] .. PAD[#ms] .. ms
    return tonumber(s), s
end

local function now_ms() return (clock()) end

local function err(msg) return redis.error_reply('ERR frontdesk: ' .. msg) end

local function bad_id(what, s)
    if type(s) ~= 'string' or #s == 0 or #s > 64 or not string.match(s, '^[%w_.@-]+$') then
        return err('bad ' .. what .. ' "' .. tostring(s) .. '"')
    end
    return nil
end

local site_of = memo(function(prefix) return string.match(prefix, '^fd:{([%w_-]+)}$') end)
local good_name = memo(function(s) return string.match(s, '^[%w_-]+$') ~= nil end)

-- "billing:3,scheduling:5" -> { billing = 3, scheduling = 5 }, or nil + error
local function parse_skills(csv)
    local skills = {}
    if csv == '' then return skills end
    for item in string.gmatch(csv, '[^,]+') do
        local name, level = string.match(item, '^([%w_-]+):([1-5])$')
        if not name then
            name = string.match(item, '^([%w_-]+)$')
            level = '3'
        end
        if not name or #name > 32 then
            return nil, 'bad skill "' .. item .. '" (want name or name:1-5)'
        end
        skills[name] = tonumber(level)
    end
    return skills
end

-- A stored skill list, parsed: { names = { 'billing', ... }, level = { billing = 3, ... } }
local parsed_skills = memo(function(csv)
    local level = parse_skills(csv) or {}
    local names = {}
    for name in pairs(level) do names[#names + 1] = name end
    return { names = names, level = level }
end)
local function skills_of(csv) return parsed_skills(csv or '') end

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

-- The availability sets' keys, by site, strategy and skill: remembered
-- across calls (a few per site; bounded by the number of sites).
local akeys, akeys_n = {}, 0

local function avail_key(p, strat, skill)
    local s = akeys[p]
    if not s then
        if akeys_n >= 4096 then akeys, akeys_n = {}, 0 end
        s = {}
        akeys[p], akeys_n = s, akeys_n + 1
    end
    local t = s[strat]
    if not t then t = {}; s[strat] = t end
    local k = t[skill]
    if not k then
        k = p .. ':avail:' .. strat .. ':' .. skill
        t[skill] = k
    end
    return k
end

-- The score of staff <h> in the set of <strat>: longest idle and round
-- robin score with the stored timestamp as it is.
local function score(strat, h, level)
    if strat == 'li' then return h.last_end or '0' end
    if strat == 'rr' then return h.last_offer or '0' end
    local last_end = tonumber(h.last_end) or 0
    if strat == 'ms' then return (5 - level) * SCALE + last_end end
    return (tonumber(h.offers) or 0) * SCALE + last_end -- fo
end

local ALL_FIELDS = { 'contact', 'skills', 'state', 'last_end', 'last_offer', 'offers', 'max_offers',
                     'open_offers' }

local function load_staff(p, id)
    local v = call('HMGET', staff_key(p, id), unpack(ALL_FIELDS))
    if not v[1] then return nil end
    return { contact = v[1], skills = v[2] or nil, state = v[3] or nil, last_end = v[4] or nil,
             last_offer = v[5] or nil, offers = v[6] or nil, max_offers = v[7] or nil,
             open_offers = v[8] or nil }
end

-- A staff member takes up to max_offers calls ringing at once (default 1);
-- with that many offers open they are out of the availability sets until
-- the offers lapse.
local function is_full(h)
    local open = h.open_offers
    if not open or open == '0' then return false end -- max_offers is at least 1
    return (num(open) or 0) >= (num(h.max_offers) or 1)
end

-- No open offer any more (lapsed, released, or the person left).
local function clear_offers(p, id)
    call('ZREM', p .. ':offered', id)
    call('HSET', staff_key(p, id), 'open_offers', '0')
end

-- The strategies whose availability sets site <p> keeps: longest idle
-- always, the others from the first pick that asks for them on (set
-- "fd:{site}:strats"), so a site that only uses longest idle pays for one
-- set per skill. With them, the staff fields their scores need (fields)
-- and what lapsing an offer reads (lapse). Cached for the length of one
-- function call.
local strat_cache = {}
local LI_FIELDS, LI_LAPSE = { 'skills', 'last_end' }, { 'skills', 'state', 'last_end' }

local function strats_of(p)
    local s = strat_cache[p]
    if not s then
        s = { 'li', fields = LI_FIELDS, lapse = LI_LAPSE }
        local codes = call('SMEMBERS', p .. ':strats')
        if #codes > 0 then
            s.fields, s.lapse = { 'skills', 'last_end' }, { 'skills', 'state', 'last_end' }
            for _, code in ipairs(codes) do
                s[#s + 1] = code
                local f = (code == 'rr' and 'last_offer') or (code == 'fo' and 'offers')
                if f then s.fields[#s.fields + 1] = f; s.lapse[#s.lapse + 1] = f end
            end
        end
        strat_cache[p] = s
    end
    return s
end

local function keeps(p, code)
    if code == 'li' then return true end
    for _, c in ipairs(strats_of(p)) do if c == code then return true end end
    return false
end

-- Writes to the availability sets, held for the length of one function
-- call: key -> { id -> score (in the set) or false (out of it) }. What
-- counts is where a member ends up, so a person taken out and put back (an
-- offer lapsed, then a new one) costs nothing, and each set gets one ZADD
-- and one ZREM with all its members. Sent before any read of a set
-- (zq_flush) and when the call ends (entry).
local zq, zq_dirty = {}, false
-- argument lists for unpack(t, 1, n), reused: a table made and grown per
-- command costs more in Lua than the command's own work
local zadd_args, zrem_args = {}, {}

local function zq_put(key, id, s)
    local q = zq[key]
    if q then q[id] = s else zq[key] = { [id] = s } end
    zq_dirty = true
end

local function zq_flush()
    if not zq_dirty then return end
    for key, q in pairs(zq) do
        local na, nr = 0, 0
        for id, s in pairs(q) do
            if s then
                zadd_args[na + 1], zadd_args[na + 2] = s, id
                na = na + 2
            else
                nr = nr + 1
                zrem_args[nr] = id
            end
        end
        if na > 0 then call('ZADD', key, unpack(zadd_args, 1, na)) end
        if nr > 0 then call('ZREM', key, unpack(zrem_args, 1, nr)) end
    end
    zq, zq_dirty = {}, false
end

-- Staff hashes a pick reads, and the offer fields it changes in them, held
-- for the length of the call: hc[p][id] = h, where h[1] is the key and h[2]
-- the id, and the fields are read as they are needed (each read field costs
-- in the bridge); a field Redis does not have reads false. A changed hash
-- (in hdirty, h.dirty: 1 open_offers, 2 and last_offer) is written with
-- one HSET when the call ends. Only fd_pick uses these; the other functions
-- read and write directly.
local hc, hdirty = {}, {}

-- <id> of site <p> with at least <fields> read ('skills' always among
-- them: every staff hash has it), or nil if there is no such staff member.
local function staff(p, id, fields)
    local site = hc[p]
    if not site then site = {}; hc[p] = site end
    local h = site[id]
    if not h then
        -- every field a pick may set, so that the table never grows
        h = { staff_key(p, id), id, contact = nil, skills = nil, state = nil, last_end = nil,
              last_offer = nil, offers = nil, max_offers = nil, open_offers = nil, dirty = nil }
        site[id] = h
        local v = call('HMGET', h[1], unpack(fields))
        for i = 1, #fields do h[fields[i]] = v[i] end
    else
        local miss
        for i = 1, #fields do
            if h[fields[i]] == nil then
                miss = miss or {}
                miss[#miss + 1] = fields[i]
            end
        end
        if miss then
            local v = call('HMGET', h[1], unpack(miss))
            for i = 1, #miss do h[miss[i]] = v[i] end
        end
    end
    if not h.skills then return nil end
    return h
end

local function set_open(h, open, last_offer)
    h.open_offers = open
    if not h.dirty then hdirty[#hdirty + 1] = h; h.dirty = 1 end
    if last_offer then h.last_offer = last_offer; h.dirty = 2 end
end

local function hc_flush()
    for i = 1, #hdirty do
        local h = hdirty[i]
        if h.dirty == 2 then call('HSET', h[1], 'open_offers', h.open_offers, 'last_offer', h.last_offer)
        else call('HSET', h[1], 'open_offers', h.open_offers) end
    end
    hdirty = {}
end

-- Put <id> in (or take it out of) every availability set of its skills.
-- (The hottest loop of a pick: avail_key and zq_put are written out here.)
local function set_available(p, id, on, h)
    h = h or load_staff(p, id)
    if not h then return end
    local strats = strats_of(p)
    if on and h[1] then staff(p, id, strats.fields) end -- a pick's hash: what the scores need
    local sk = parsed_skills(h.skills or '')
    local names, level = sk.names, sk.level
    for j = 1, #strats do
        local strat = strats[j]
        local keys = akeys[p]
        keys = keys and keys[strat]
        for i = 1, #names do
            local skill = names[i]
            local key = keys and keys[skill] or avail_key(p, strat, skill)
            local s = on and score(strat, h, level[skill])
            local q = zq[key]
            if q then q[id] = s else zq[key] = { [id] = s } end
        end
    end
    zq_dirty = true
end

local function publish(p, id, state, reason)
    call('PUBLISH', 'fd:events', cjson.encode({
        site = site_of(p), staff = id, state = state, reason = reason or '',
        at = now_ms() }))
end

-- Offers past their window go back to availability, if still available.
local function lapse_offers(p, nows)
    local off = p .. ':offered'
    local ids = call('ZRANGEBYSCORE', off, '-inf', nows)
    if #ids == 0 then return end
    call('ZREMRANGEBYSCORE', off, '-inf', nows)
    local fields = strats_of(p).lapse
    for _, id in ipairs(ids) do
        local h = staff(p, id, fields)
        if h then
            set_open(h, '0')
            if h.state == 'available' then set_available(p, id, true, h) end
        end
    end
end

local F_STATE = { 'skills', 'state', 'max_offers', 'open_offers' }

-- A new day at the site (<day> is the caller's YYYYMMDD): offer counts
-- start again, so the fewest-offers sets are scored afresh (once a day).
local function roll_day(p, day)
    if day == '' or not keeps(p, 'fo') then return end
    -- sites in other time zones share pools: only ever move forward
    local stored = tonumber(call('GET', p .. ':day') or '0') or 0
    if tonumber(day) == nil or tonumber(day) <= stored then return end
    call('SET', p .. ':day', day)
    for _, id in ipairs(call('SMEMBERS', p .. ':staff')) do
        local h = staff(p, id, F_STATE)
        if h then
            -- written now, not held: a new offer today counts with HINCRBY
            call('HSET', h[1], 'offers', '0')
            h.offers = '0'
            if h.state == 'available' and not is_full(h) then set_available(p, id, true, h) end
        end
    end
end

-- Start keeping the sets of strategy <code> at site <p>: from now on every
-- change keeps them, and they are filled once here (O(n), the first pick
-- with that strategy only).
local function ensure_strategy(p, code)
    if code == 'li' or call('SADD', p .. ':strats', code) == 0 then return end
    strat_cache[p] = nil
    local fields = strats_of(p).fields
    for _, id in ipairs(call('SMEMBERS', p .. ':staff')) do
        local h = staff(p, id, F_STATE)
        if h and h.state == 'available' and not is_full(h) then
            staff(p, id, fields)
            local sk = skills_of(h.skills)
            for _, skill in ipairs(sk.names) do
                zq_put(avail_key(p, code, skill), id, score(code, h, sk.level[skill]))
            end
        end
    end
end

-- Reserve <id> of site <p> for its offer: out of every availability set
-- once full. The caller adds it to the site's offered set.
local function reserve(p, id, h, nows)
    local open = (num(h.open_offers) or 0) + 1
    set_open(h, INT[open] or tostring(open), nows)
    h.offers = call('HINCRBY', h[1], 'offers', '1') -- no need to read the count
    set_available(p, id, not is_full(h), h) -- or rescored (round robin, fewest offers)
end

local function fd_version(keys, args)
    return VERSION
end

-- FCALL fd_staff_set 1 fd:{site} <id> <contact-uri> <skills> [<state> [<max-offers>]]
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
    if type(contact) ~= 'string' or not string.match(contact, '^sips?:[^%s<>"]+$') or #contact > 250 then
        return err('contact must be a sip: or sips: URI')
    end
    local skills, perr = parse_skills(csv)
    if not skills then return err(perr) end
    if not STATES[state] then return err('bad state "' .. state .. '"') end
    local sk = staff_key(p, id)
    if call('EXISTS', sk) == 1 then set_available(p, id, false) end
    call('HSET', sk, 'contact', contact, 'skills', csv, 'state', state, 'updated', now_ms(),
               'max_offers', max_offers)
    call('HSETNX', sk, 'last_end', 0)
    call('SADD', p .. ':staff', id)
    -- open offers keep them reserved until they lapse; not available: the
    -- offers have no reason to last
    if state ~= 'available' then clear_offers(p, id)
    else
        local h = load_staff(p, id)
        if h and not is_full(h) then set_available(p, id, true, h) end
    end
    publish(p, id, state, 'staff set')
    return 'OK'
end

-- FCALL fd_presence 1 fd:{site} <id> <state> [<reason>]
-- Sets a staff member's state. Leaving busy or wrapup for available records
-- the end of a call, so longest-idle picks stay true.
local function fd_presence(keys, args)
    local p, id, e = staff_args(keys, args)
    if e then return e end
    local state, reason = args[2], args[3]
    if not STATES[state or ''] then
        return err('bad state "' .. tostring(state) .. '" (want available, busy, break, wrapup or offline)')
    end
    local sk = staff_key(p, id)
    local old = call('HGET', sk, 'state')
    if not old then return err('no staff "' .. id .. '" at this site') end
    local now = now_ms()
    if state == 'available' and (old == 'busy' or old == 'wrapup') then
        call('HSET', sk, 'last_end', now)
    end
    call('HSET', sk, 'state', state, 'reason', reason or '', 'updated', now)
    if state == 'available' then
        -- open offers keep them reserved until they lapse
        local h = load_staff(p, id)
        if h and not is_full(h) then set_available(p, id, true, h) end
    else
        set_available(p, id, false)
        clear_offers(p, id)
    end
    publish(p, id, state, reason)
    return 'OK'
end

-- The first <want> candidates of one chain step, best first, skipping
-- those already taken, below <min> proficiency in <skill>, or not in
-- <p>'s staff any more. Looks at no more than <want> + MIN_LEVEL_SCAN:
-- first at <want> + <ntaken> (enough unless a minimum level skips some; a
-- longer reply costs more to convert than the set costs to read), then at
-- the rest of them.
local F_CAND = { 'skills', 'contact', 'max_offers', 'open_offers' }

local function candidates(p, skill, strat, min, want, taken, ntaken, dry)
    local out = {}
    if not keeps(p, strat) then
        -- fd_peek before any pick used this strategy here: no sets yet, so
        -- rank the available staff the way their set would (read-only scan)
        local all = {}
        for _, id in ipairs(call('SMEMBERS', p .. ':staff')) do
            local h = staff(p, id, ALL_FIELDS)
            local level = h and skills_of(h.skills).level[skill]
            if h and level and level >= min and h.state == 'available' and not taken[h] and
               not is_full(h) then
                all[#all + 1] = { id = id, h = h, s = tonumber(score(strat, h, level)) }
            end
        end
        table.sort(all, function(a, b) return a.s < b.s or (a.s == b.s and a.id < b.id) end)
        for i = 1, math.min(want, #all) do out[i] = all[i].h end
        return out
    end
    local key = avail_key(p, strat, skill)
    zq_flush() -- the set as this call left it
    local from, limit = 0, want + MIN_LEVEL_SCAN
    local to = math.min(want + ntaken, limit) - 1
    while true do
        local ids = call('ZRANGE', key, INT[from], INT[to])
        for i = 1, #ids do
            if #out >= want then return out end
            local id = ids[i]
            local h = staff(p, id, F_CAND)
            if not h then
                if not dry then zq_put(key, id, false) end -- removed staff: heal the set
            elseif not taken[h] and (skills_of(h.skills).level[skill] or 0) >= min then
                out[#out + 1] = h
            end
        end
        if #out >= want or #ids < to - from + 1 or to >= limit - 1 then return out end
        from, to = to + 1, limit - 1
    end
end

local function int(v) return v and v == math.floor(v) end
local F_CALLER = { 'skills', 'contact', 'state', 'max_offers', 'open_offers' }

-- The reply for a recorded decision. A record is: caller hash (or "-"),
-- then id, contact pairs, tab-separated.
local function recorded_reply(rec)
    local out, first = { 'recorded' }, true
    for f in string.gmatch(rec, '[^\t]+') do
        if first then first = false else out[#out + 1] = f end
    end
    if #out == 1 then out[1] = 'none' end
    return out
end

-- FCALL fd_pick N <prefix1..prefixN> <call-id> <k> <offer-ms> <ttl-ms>
--       <caller-hash|""> <caller-window-s> <day|""> <nsteps>
--       then per step: <key-index> <skill> <strategy> <min-level>
-- Returns the decision already recorded for <call-id> (under KEYS[1]), or
-- walks the chain: the caller's last staff member first (caller-aware, if
-- available and within the window), then each step's strategy, until <k>
-- staff are found; reserves them for <offer-ms>, records the decision for
-- <ttl-ms> and, for a known caller, who was offered first.
-- Reply: { "picked"|"recorded"|"none", id1, contact1, id2, contact2, ... }
-- where an id of another site than KEYS[1]'s reads "<site>/<id>".
local function walk(keys, args, dry)
    local home = keys[1]
    for i = 1, #keys do
        if not site_of(keys[i]) then return err('every key must be fd:{<site>}') end
    end
    local callid, k, offer, ttl = args[1], num(args[2]), num(args[3]), num(args[4])
    local caller, window, day, nsteps = args[5] or '', num(args[6]) or 0, args[7] or '', num(args[8])
    if type(callid) ~= 'string' or #callid == 0 or #callid > 256 then return err('bad call-id') end
    if not int(k) or not int(offer) or not int(ttl) or not int(window) then
        return err('k, offer-ms, ttl-ms and window-s must be integers')
    end
    if not k or k < 1 or k > 5 or not offer or offer < 1 or not ttl or ttl < 1 or
       not nsteps or nsteps < 0 or nsteps > 8 or #args ~= 8 + 4 * nsteps then
        return err('usage: fd_pick N keys... call-id k offer-ms ttl-ms caller window day nsteps {key-index skill strategy min-level}...')
    end
    local steps = {}
    for s = 1, nsteps do
        local b = 8 + 4 * (s - 1)
        local ki, skill, strat, min = num(args[b + 1]), args[b + 2], STRATEGIES[args[b + 3]], num(args[b + 4])
        if not ki or ki < 1 or ki > #keys or not strat or not min or min < 1 or min > 5 or
           not good_name(skill) then
            return err('bad chain step ' .. s)
        end
        steps[s] = { p = keys[ki], skill = skill, strat = strat, min = min }
    end

    local ck = home .. ':call:' .. callid
    local rec = (not dry) and call('GET', ck)
    if rec then return recorded_reply(rec) end

    local now, nows = clock()
    local seen = {}
    for _, st in ipairs(steps) do
        if not dry then ensure_strategy(st.p, st.strat) end
        if not seen[st.p] then
            seen[st.p] = true
            if not dry then
                lapse_offers(st.p, nows)
                roll_day(st.p, day)
            end
        end
    end

    -- out is the reply as it grows: the outcome, then id, contact pairs
    local out, taken, why, chosen, chosen_p = { 'none' }, {}, dry and {}, {}, {}
    local function take(p, id, h, reason)
        taken[h] = true
        chosen[#chosen + 1], chosen_p[#chosen + 1] = h, p
        out[#out + 1] = (p == home) and id or (site_of(p) .. '/' .. id)
        out[#out + 1] = h.contact
        if why then why[#why + 1] = reason end
    end

    -- caller-aware: the staff member who had this caller last (a staff hash
    -- exists exactly as long as its id is in the site's staff set)
    if caller ~= '' and window > 0 then
        local last = call('HMGET', home .. ':caller:' .. caller, 'site', 'staff', 'at')
        if last[1] and last[2] and now - (tonumber(last[3]) or 0) <= window * 1000 then
            local p = 'fd:{' .. last[1] .. '}'
            if not seen[p] and not dry then lapse_offers(p, nows) end
            local h = staff(p, last[2], F_CALLER)
            if h and h.state == 'available' and not is_full(h) then take(p, last[2], h, 'caller-aware: handled this caller last') end
        end
    end

    for n, st in ipairs(steps) do
        local want = k - #chosen
        if want <= 0 then break end
        for _, h in ipairs(candidates(st.p, st.skill, st.strat, st.min, want, taken, #chosen, dry)) do
            take(st.p, h[2], h, dry and string.format('step %d: %s at %s, %s, level %s >= %d',
                n, st.skill, site_of(st.p), args[8 + 4 * (n - 1) + 3],
                tostring(skills_of(h.skills).level[st.skill]), st.min))
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

    -- reserve the chosen for <offer> ms: one ZADD per site's offered set,
    -- each lapsing with its latest offer
    local offered, until_s = {}, #chosen > 0 and tostring(now + offer)
    for i, h in ipairs(chosen) do
        local p = chosen_p[i]
        reserve(p, h[2], h, nows)
        local o = offered[p]
        if not o then o = { p .. ':offered', 'GT' }; offered[p] = o end
        o[#o + 1] = until_s
        o[#o + 1] = h[2]
    end
    for _, o in pairs(offered) do call('ZADD', unpack(o)) end

    call('SET', ck, (caller ~= '' and caller or '-') .. '\t' .. table.concat(out, '\t', 2), 'PX',
         int_text(args[4]))
    if #out > 1 then out[1] = 'picked' end
    if caller ~= '' and #out > 1 then
        local first = out[2]
        local s, id = string.match(first, '^([%w_-]+)/(.+)$')
        if not s then s, id = site_of(home), first end
        local key = home .. ':caller:' .. caller
        call('HSET', key, 'site', s, 'staff', id, 'at', nows)
        call('PEXPIRE', key, math.max(window, 1) * 1000)
    end
    return out
end

local function fd_pick(keys, args) return walk(keys, args, false) end

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
    for f in string.gmatch(rec, '[^\t]+') do fields[#fields + 1] = f end
    local released = 0
    for i = 2, #fields, 2 do
        local s, id = string.match(fields[i], '^([%w_-]+)/(.+)$')
        local p = s and ('fd:{' .. s .. '}') or home
        id = id or fields[i]
        local h = load_staff(p, id)
        local open = h and tonumber(h.open_offers) or 0
        if h and open > 0 then
            released = released + 1
            open = open - 1
            h.open_offers = tostring(open)
            call('HSET', staff_key(p, id), 'open_offers', open)
            if open == 0 then call('ZREM', p .. ':offered', id) end
            if h.state == 'available' and not is_full(h) then set_available(p, id, true, h) end
        end
    end
    call('SET', ck, (fields[1] or '-') .. '\t', 'KEEPTTL')
    if fields[1] and fields[1] ~= '-' then call('DEL', home .. ':caller:' .. fields[1]) end
    return released
end

-- FCALL_RO fd_peek: the arguments of fd_pick; who fd_pick would offer the
-- call to now, without reserving anyone or recording anything (explain).
-- Reply: { id1, contact1, why1, id2, contact2, why2, ... }. Offers whose
-- window has passed but that no pick has lapsed yet still count as open.
local function fd_peek(keys, args) return walk(keys, args, true) end

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

-- FCALL fd_call_end 1 fd:{site} <id>
-- A call of <id> ended: their idle time starts now (longest-idle) and they
-- are available again (once an open offer, if any, has lapsed).
local function fd_call_end(keys, args)
    local p, id, e = staff_args(keys, args)
    if e then return e end
    local sk = staff_key(p, id)
    if call('EXISTS', sk) == 0 then return err('no staff "' .. id .. '" at this site') end
    local now = now_ms()
    call('HSET', sk, 'last_end', now, 'state', 'available', 'updated', now)
    -- rescored with the new end of call; an open offer (a new call ringing
    -- them now) keeps them reserved until it lapses
    set_available(p, id, false)
    local h = load_staff(p, id)
    if h and not is_full(h) then set_available(p, id, true, h) end
    publish(p, id, 'available', 'call ended')
    return 'OK'
end

-- FCALL fd_staff_remove 1 fd:{site} <id>
local function fd_staff_remove(keys, args)
    local p, id, e = staff_args(keys, args)
    if e then return e end
    if call('EXISTS', staff_key(p, id)) == 0 then return err('no staff "' .. id .. '" at this site') end
    set_available(p, id, false)
    clear_offers(p, id)
    call('DEL', staff_key(p, id))
    call('SREM', p .. ':staff', id)
    publish(p, id, 'removed', 'staff removed')
    return 'OK'
end

-- FCALL fd_skills_set 1 fd:{site} <id> <skills>
local function fd_skills_set(keys, args)
    local p, id, e = staff_args(keys, args)
    if e then return e end
    local csv = args[2]
    local skills, perr = parse_skills(csv or '')
    if not skills or not csv then return err(perr or 'usage: fd_skills_set <id> <skills>') end
    local h = load_staff(p, id)
    if not h then return err('no staff "' .. id .. '" at this site') end
    set_available(p, id, false, h)
    call('HSET', staff_key(p, id), 'skills', csv, 'updated', now_ms())
    if h.state == 'available' and not is_full(h) then set_available(p, id, true) end
    publish(p, id, h.state, 'skills set')
    return 'OK'
end

-- FCALL_RO fd_staff_list 1 fd:{site}  ->  { id, state, skills, contact, ... }
local function fd_staff_list(keys, args)
    local p = keys[1]
    if not site_of(p) then return err('KEYS[1] must be fd:{<site>}') end
    local out = {}
    local ids = call('SMEMBERS', p .. ':staff')
    table.sort(ids)
    for _, id in ipairs(ids) do
        local h = call('HMGET', staff_key(p, id), 'state', 'skills', 'contact', 'open_offers', 'max_offers')
        local open = tonumber(h[4]) or 0
        out[#out + 1] = id
        out[#out + 1] = (h[1] or '?') .. (open > 0 and string.format(' (offered %d/%s)', open, h[5] or '1') or '')
        out[#out + 1] = h[2] or ''
        out[#out + 1] = h[3] or ''
    end
    return out
end

-- FCALL_RO fd_staff_get 1 fd:{site} <id>  ->  flat hash of the staff member
local function fd_staff_get(keys, args)
    local e = bad_id('staff id', args[1]); if e then return e end
    return call('HGETALL', staff_key(keys[1], args[1]))
end

-- Every entry point starts with empty per-call caches (what another call
-- changed must be read afresh) and ends by sending the writes it held.
local function entry(fn)
    return function(keys, args)
        if not ipairs then
            ipairs, pairs, tonumber, tostring, type, unpack, string, math, table, cjson = lua_globals()
        end
        call = redis.call
        strat_cache, zq, zq_dirty, hc, hdirty = {}, {}, false, {}, {}
        local r = fn(keys, args)
        zq_flush()
        hc_flush()
        return r
    end
end

redis.register_function('fd_version', entry(fd_version))
redis.register_function('fd_staff_set', entry(fd_staff_set))
redis.register_function('fd_presence', entry(fd_presence))
redis.register_function('fd_pick', entry(fd_pick))
redis.register_function('fd_call_end', entry(fd_call_end))
redis.register_function('fd_release', entry(fd_release))
redis.register_function('fd_staff_remove', entry(fd_staff_remove))
redis.register_function('fd_skills_set', entry(fd_skills_set))
redis.register_function{ function_name = 'fd_staff_list', callback = entry(fd_staff_list), flags = { 'no-writes' } }
redis.register_function{ function_name = 'fd_decision', callback = entry(fd_decision), flags = { 'no-writes' } }
redis.register_function{ function_name = 'fd_peek', callback = entry(fd_peek), flags = { 'no-writes' } }
redis.register_function{ function_name = 'fd_staff_get', callback = entry(fd_staff_get),
                         flags = { 'no-writes' } }
