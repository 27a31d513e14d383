#!lua name=frontdesk
--
-- Frontdesk's Redis Functions library: the only way presence is written and
-- the one round trip an INVITE makes. Loaded by every proxy at connect with
-- FUNCTION LOAD REPLACE, so a restarted Redis gets it back by itself.
-- Keys and functions are documented in docs/redis.md; every key of a site
-- carries the hash tag {site}, and KEYS[1] is always the site prefix
-- "fd:{<site>}" so a call touches one Cluster slot.
--
local VERSION = '1'
local STATES = { available = true, busy = true, ['break'] = true,
                 wrapup = true, offline = true }

local function now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function check_id(what, s)
    if type(s) ~= 'string' or not string.match(s, '^[%w_.@-]+$') or #s > 64 then
        return redis.error_reply('ERR frontdesk: bad ' .. what .. ' "' .. tostring(s) .. '"')
    end
    return nil
end

local function site_of(prefix)
    return string.match(prefix or '', '^fd:{([%w_-]+)}$')
end

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
        if not name then return nil, 'ERR frontdesk: bad skill "' .. item .. '" (want name or name:1-5)' end
        skills[name] = tonumber(level)
    end
    return skills
end

local function staff_key(p, id) return p .. ':staff:' .. id end
local function avail_key(p, skill) return p .. ':avail:' .. skill end

-- Put <id> in (or take it out of) the availability set of each of its skills.
local function set_available(p, id, on)
    local h = redis.call('HMGET', staff_key(p, id), 'skills', 'last_end')
    local skills = parse_skills(h[1] or '') or {}
    local score = tonumber(h[2]) or 0
    for skill in pairs(skills) do
        if on then
            redis.call('ZADD', avail_key(p, skill), score, id)
        else
            redis.call('ZREM', avail_key(p, skill), id)
        end
    end
end

local function publish(p, id, state, reason)
    redis.call('PUBLISH', 'fd:events', cjson.encode({
        site = site_of(p), staff = id, state = state, reason = reason or '',
        at = now_ms() }))
end

-- Offers past their window go back to availability, if still available.
local function lapse_offers(p, now)
    local off = p .. ':offered'
    local ids = redis.call('ZRANGEBYSCORE', off, '-inf', now)
    for _, id in ipairs(ids) do
        redis.call('ZREM', off, id)
        if redis.call('HGET', staff_key(p, id), 'state') == 'available' then
            set_available(p, id, true)
        end
    end
end

-- FCALL fd_version 0  ->  "1"
local function fd_version(keys, args)
    return VERSION
end

-- FCALL fd_staff_set 1 fd:{site} <id> <contact-uri> <skills> [<state>]
-- Adds or replaces a staff member. <skills>: "billing:3,scheduling:5".
local function fd_staff_set(keys, args)
    local p = keys[1]
    if not site_of(p) then return redis.error_reply('ERR frontdesk: KEYS[1] must be fd:{<site>}') end
    local id, contact, csv, state = args[1], args[2], args[3] or '', args[4] or 'offline'
    local e = check_id('staff id', id); if e then return e end
    if type(contact) ~= 'string' or not string.match(contact, '^sips?:[^%s<>"]+$') then
        return redis.error_reply('ERR frontdesk: contact must be a sip: or sips: URI')
    end
    local skills, err = parse_skills(csv)
    if not skills then return redis.error_reply(err) end
    if not STATES[state] then return redis.error_reply('ERR frontdesk: bad state "' .. state .. '"') end
    -- take the old skills out before replacing them
    if redis.call('EXISTS', staff_key(p, id)) == 1 then set_available(p, id, false) end
    redis.call('ZREM', p .. ':offered', id)
    local sk = staff_key(p, id)
    redis.call('HSET', sk, 'contact', contact, 'skills', csv, 'state', state,
               'updated', now_ms())
    redis.call('HSETNX', sk, 'last_end', 0)
    redis.call('SADD', p .. ':staff', id)
    if state == 'available' then set_available(p, id, true) end
    publish(p, id, state, 'staff set')
    return 'OK'
end

-- FCALL fd_presence 1 fd:{site} <id> <state> [<reason>]
-- Sets a staff member's state. Leaving busy or wrapup for available records
-- the end of a call, so longest-idle picks stay true.
local function fd_presence(keys, args)
    local p = keys[1]
    if not site_of(p) then return redis.error_reply('ERR frontdesk: KEYS[1] must be fd:{<site>}') end
    local id, state, reason = args[1], args[2], args[3]
    local e = check_id('staff id', id); if e then return e end
    if not STATES[state or ''] then
        return redis.error_reply('ERR frontdesk: bad state "' .. tostring(state) ..
            '" (want available, busy, break, wrapup or offline)')
    end
    local sk = staff_key(p, id)
    local old = redis.call('HGET', sk, 'state')
    if not old then return redis.error_reply('ERR frontdesk: no staff "' .. id .. '" at this site') end
    local now = now_ms()
    if state == 'available' and (old == 'busy' or old == 'wrapup') then
        redis.call('HSET', sk, 'last_end', now)
    end
    redis.call('HSET', sk, 'state', state, 'reason', reason or '', 'updated', now)
    if state == 'available' then
        -- an open offer keeps them reserved until it lapses
        if not redis.call('ZSCORE', p .. ':offered', id) then set_available(p, id, true) end
    else
        set_available(p, id, false)
        redis.call('ZREM', p .. ':offered', id)
    end
    publish(p, id, state, reason)
    return 'OK'
end

-- FCALL fd_pick 1 fd:{site} <call-id> <skill> <k> <offer-ms> <ttl-ms>
-- Returns the decision already recorded for <call-id> (retransmission), or
-- picks up to <k> available staff with <skill>, longest idle first, reserves
-- them for <offer-ms> and records the decision for <ttl-ms>.
-- Reply: { "picked"|"recorded"|"none", id1, contact1, id2, contact2, ... }
local function fd_pick(keys, args)
    local p = keys[1]
    if not site_of(p) then return redis.error_reply('ERR frontdesk: KEYS[1] must be fd:{<site>}') end
    local callid, skill = args[1], args[2]
    local k, offer, ttl = tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
    if type(callid) ~= 'string' or #callid == 0 or #callid > 256 then
        return redis.error_reply('ERR frontdesk: bad call-id')
    end
    if not k or k < 1 or k > 5 or not offer or offer < 1 or not ttl or ttl < 1 then
        return redis.error_reply('ERR frontdesk: usage fd_pick <call-id> <skill> <k 1-5> <offer-ms> <ttl-ms>')
    end
    local ck = p .. ':call:' .. callid
    local rec = redis.call('GET', ck)
    if rec then
        local out = { 'recorded' }
        for f in string.gmatch(rec, '[^\t]+') do out[#out + 1] = f end
        if #out == 1 then out[1] = 'none' end
        return out
    end
    local now = now_ms()
    lapse_offers(p, now)
    local ids = redis.call('ZRANGE', avail_key(p, skill), 0, k - 1)
    local out, fields = { 'picked' }, {}
    for _, id in ipairs(ids) do
        local contact = redis.call('HGET', staff_key(p, id), 'contact')
        set_available(p, id, false)
        redis.call('ZADD', p .. ':offered', now + offer, id)
        if contact then
            out[#out + 1] = id
            out[#out + 1] = contact
            fields[#fields + 1] = id
            fields[#fields + 1] = contact
        end
    end
    if #out == 1 then out[1] = 'none' end
    redis.call('SET', ck, table.concat(fields, '\t'), 'PX', ttl)
    return out
end

-- FCALL_RO fd_staff_get 1 fd:{site} <id>  ->  flat hash of the staff member
local function fd_staff_get(keys, args)
    local e = check_id('staff id', args[1]); if e then return e end
    return redis.call('HGETALL', staff_key(keys[1], args[1]))
end

redis.register_function('fd_version', fd_version)
redis.register_function('fd_staff_set', fd_staff_set)
redis.register_function('fd_presence', fd_presence)
redis.register_function('fd_pick', fd_pick)
redis.register_function{ function_name = 'fd_staff_get', callback = fd_staff_get,
                         flags = { 'no-writes' } }
