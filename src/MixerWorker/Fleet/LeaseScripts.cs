namespace MixerWorker.Fleet;

/// <summary>
/// The Lua scripts behind the lease protocol (docs/fleet.md). Each runs atomically on the project's
/// slot: every key it names carries the project's hash tag. Events are published from inside the
/// scripts, so "claimed", "lost" and "released" go out exactly when the lease changes hands.
/// Lease values are "epoch:nonce:worker" (<see cref="LeaseToken"/>).
/// </summary>
internal static class LeaseScripts
{
    // Shared by the scripts that take a lease: the previous holder, from the last-lease key.
    private const string ParsePrevious = """
        local function holder(v)
          if not v or v == 'released' then return nil, nil end
          local a = string.find(v, ':', 1, true)
          local b = a and string.find(v, ':', a + 1, true)
          if not b then return nil, nil end
          return string.sub(v, b + 1), tonumber(string.sub(v, 1, a - 1))
        end
        """;

    /// <summary>
    /// KEYS: lease, epoch, last-lease. ARGV: worker, nonce, ttl ms, epoch floor, channel, project, reason.
    /// Takes the lease when nobody holds it: the epoch rises (at least above the floor, so an owner that
    /// takes its project back from an emptied Redis keeps its epoch rising), the lease is set with its TTL,
    /// and "lost" (when the last holder's lease lapsed rather than being released) and "claimed" go out.
    /// Returns {1, value, the last lease value taken before this one ('' when none is recorded)} or {0, current holder's value}.
    /// </summary>
    public const string Acquire = ParsePrevious + "\n" + """
        local cur = redis.call('GET', KEYS[1])
        if cur then return {0, cur} end
        local e = redis.call('INCR', KEYS[2])
        local floor = tonumber(ARGV[4])
        if e <= floor then e = floor + 1; redis.call('SET', KEYS[2], e) end
        local v = e .. ':' .. ARGV[2] .. ':' .. ARGV[1]
        redis.call('SET', KEYS[1], v, 'PX', ARGV[3])
        local last = redis.call('GET', KEYS[3])
        local pw, pe = holder(last)
        redis.call('SET', KEYS[3], v)
        if pw then
          redis.call('PUBLISH', ARGV[5], cjson.encode({type = 'lost', project = ARGV[6], worker = pw, epoch = pe, reason = 'lease-expired', by = ARGV[1]}))
        end
        redis.call('PUBLISH', ARGV[5], cjson.encode({type = 'claimed', project = ARGV[6], worker = ARGV[1], epoch = e, reason = ARGV[7], previous = pw}))
        return {1, v, last or ''}
        """;

    /// <summary>KEYS: lease. ARGV: value, ttl ms. Returns 1 (renewed), 0 (no lease), or the value of whoever holds it.</summary>
    public const string Renew = """
        local cur = redis.call('GET', KEYS[1])
        if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1 end
        if not cur then return 0 end
        return cur
        """;

    /// <summary>
    /// KEYS: lease, last-lease, status. ARGV: value, channel, project, worker, epoch, reason.
    /// Gives the lease up (only the holder can): the lease and the status go, "released" goes out.
    /// </summary>
    public const string Release = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[1], KEYS[3])
        redis.call('SET', KEYS[2], 'released')
        redis.call('PUBLISH', ARGV[2], cjson.encode({type = 'released', project = ARGV[3], worker = ARGV[4], epoch = tonumber(ARGV[5]), reason = ARGV[6]}))
        return 1
        """;

    /// <summary>
    /// KEYS: lease, hand-over. ARGV: value, ttl ms, channel, project, worker, epoch.
    /// The holder offers its project to a successor (drain): the offer lives as long as the drain may.
    /// </summary>
    public const string OfferHandOver = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
        redis.call('PUBLISH', ARGV[3], cjson.encode({type = 'handover', project = ARGV[4], worker = ARGV[5], epoch = tonumber(ARGV[6])}))
        return 1
        """;

    /// <summary>KEYS: hand-over, successor. ARGV: successor value, ttl ms. One worker becomes the successor of an offered project.</summary>
    public const string ClaimSuccession = """
        if not redis.call('GET', KEYS[1]) then return 0 end
        if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
        return 0
        """;

    /// <summary>KEYS: successor. ARGV: successor value. A successor that stops preparing lets the offer be taken by another worker.</summary>
    public const string GiveUpSuccession = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[1])
        return 1
        """;

    /// <summary>
    /// KEYS: lease, successor, command-in-flight. ARGV: value, ttl ms.
    /// A handing-over holder about to carry out a command: only while no successor prepares, marks the
    /// command in flight (the take-over waits for the mark). Returns 1, or 0 when a successor prepares or
    /// the lease is no longer the caller's (the command then waits in the stream for the successor).
    /// </summary>
    public const string BeginCommand = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
        redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    /// <summary>KEYS: command-in-flight. ARGV: value. The command's result is stored (or dropped): the mark goes.</summary>
    public const string EndCommand = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 1
        """;

    /// <summary>
    /// KEYS: lease, epoch, last-lease, hand-over, successor, command-in-flight. ARGV: successor value, worker, nonce, ttl ms, channel, project.
    /// The prepared successor takes the lease from the holder that offered it (or that has died since):
    /// the epoch rises, the offer goes, "released" (for the old holder) and "claimed" go out.
    /// Returns {1, value}, {0, why}, or {2, ms}: the old holder is carrying out a command whose result it
    /// has not stored yet (its mark lives ms more); take over once it is stored.
    /// </summary>
    public const string TakeOver = ParsePrevious + "\n" + """
        if redis.call('GET', KEYS[5]) ~= ARGV[1] then return {0, 'not the successor'} end
        local offered = redis.call('GET', KEYS[4])
        local cur = redis.call('GET', KEYS[1])
        if cur and cur ~= offered then return {0, 'the project changed hands meanwhile'} end
        local busy = redis.call('PTTL', KEYS[6])
        if busy > 0 then return {2, busy} end
        local e = redis.call('INCR', KEYS[2])
        local v = e .. ':' .. ARGV[3] .. ':' .. ARGV[2]
        redis.call('SET', KEYS[1], v, 'PX', ARGV[4])
        redis.call('SET', KEYS[3], v)
        redis.call('DEL', KEYS[4], KEYS[5])
        local pw, pe = holder(cur or offered)
        if pw then
          redis.call('PUBLISH', ARGV[5], cjson.encode({type = 'released', project = ARGV[6], worker = pw, epoch = pe, reason = 'handover', by = ARGV[2]}))
        end
        redis.call('PUBLISH', ARGV[5], cjson.encode({type = 'claimed', project = ARGV[6], worker = ARGV[2], epoch = e, reason = 'handover', previous = pw}))
        return {1, v}
        """;

    /// <summary>KEYS: lease, key. ARGV: value, payload, ttl ms. Writes only while the lease is the caller's.</summary>
    public const string FencedSet = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
        return 1
        """;

    /// <summary>KEYS: lease. ARGV: value, channel, message. Publishes only while the lease is the caller's.</summary>
    public const string FencedPublish = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('PUBLISH', ARGV[2], ARGV[3])
        return 1
        """;

    /// <summary>KEYS: lease, key. ARGV: value. Deletes only while the lease is the caller's.</summary>
    public const string FencedDelete = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[2])
        return 1
        """;

    /// <summary>
    /// KEYS: lease, status. ARGV: payload, ttl ms, channel, message (empty: none). The "waiting" status of a
    /// project nobody can take: written only while nobody holds it.
    /// </summary>
    public const string SetWaiting = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
        if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
        return 1
        """;
}
