-- TOTP (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1) and backup-code hashing, in plain plpgsql.
--
-- The embedded server ships without contrib (no pgcrypto), and PostgreSQL has sha224/256/384/512
-- and md5 built in but neither SHA-1 nor HMAC, while every authenticator app uses HMAC-SHA1. So
-- SHA-1 is written out here; two-factor codes are then checked inside the database and the
-- secret never has to leave it. Only functions, no tables: the migration that builds the 2FA
-- tables and SECURITY DEFINER entry points runs this file first (op.execute(text), as one
-- string). CREATE OR REPLACE, so a later migration can run a corrected copy again. Every function
-- is created in the current schema, calls the others unqualified (a SECURITY DEFINER caller
-- should SET search_path) and is IMMUTABLE: pure; omnidesk_totp_matches's `at` defaults to now(),
-- which the caller evaluates.
--
-- Arithmetic: 32-bit words are held in bigint and masked with 4294967295 after each addition, so
-- nothing overflows (the widest intermediate, x << 30, stays below 2^62).

-- SHA-1 compression (FIPS 180-4 §6.1.2) of whole 64-byte blocks, starting from state h
-- (five words). Internal: the caller pads. Rounds are unrolled five at a time with rotating
-- variable roles, so a round costs two assignments instead of the textbook six.
CREATE OR REPLACE FUNCTION omnidesk_sha1_blocks(h bigint[], data bytea) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    m CONSTANT bigint := 4294967295;
    w bigint[] := array_fill(0::bigint, ARRAY[80]);
    a bigint; b bigint; c bigint; d bigint; e bigint;
    h0 bigint := h[1]; h1 bigint := h[2]; h2 bigint := h[3]; h3 bigint := h[4]; h4 bigint := h[5];
    x bigint;
    o int;
    i int;
    t int;
BEGIN
    IF length(data) % 64 <> 0 THEN
        RAISE EXCEPTION 'omnidesk_sha1_blocks needs whole 64-byte blocks, got % bytes', length(data)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR blk IN 0 .. length(data) / 64 - 1 LOOP
        o := blk * 64;
        FOR i IN 1 .. 16 LOOP
            w[i] := (get_byte(data, o)::bigint << 24) | (get_byte(data, o + 1) << 16)
                    | (get_byte(data, o + 2) << 8) | get_byte(data, o + 3);
            o := o + 4;
        END LOOP;
        FOR i IN 17 .. 80 LOOP
            x := w[i - 3] # w[i - 8] # w[i - 14] # w[i - 16];
            w[i] := ((x << 1) | (x >> 31)) & m;
        END LOOP;

        a := h0; b := h1; c := h2; d := h3; e := h4;
        -- rounds 0-19: Ch(b, c, d) = d xor (b and (c xor d)), K = 0x5A827999
        t := 1;
        FOR i IN 1 .. 4 LOOP
            e := (e + (((a << 5) | (a >> 27)) & m) + (d # (b & (c # d))) + 1518500249 + w[t]) & m;
            b := ((b << 30) | (b >> 2)) & m;
            d := (d + (((e << 5) | (e >> 27)) & m) + (c # (a & (b # c))) + 1518500249 + w[t + 1]) & m;
            a := ((a << 30) | (a >> 2)) & m;
            c := (c + (((d << 5) | (d >> 27)) & m) + (b # (e & (a # b))) + 1518500249 + w[t + 2]) & m;
            e := ((e << 30) | (e >> 2)) & m;
            b := (b + (((c << 5) | (c >> 27)) & m) + (a # (d & (e # a))) + 1518500249 + w[t + 3]) & m;
            d := ((d << 30) | (d >> 2)) & m;
            a := (a + (((b << 5) | (b >> 27)) & m) + (e # (c & (d # e))) + 1518500249 + w[t + 4]) & m;
            c := ((c << 30) | (c >> 2)) & m;
            t := t + 5;
        END LOOP;
        -- rounds 20-39: Parity, K = 0x6ED9EBA1
        FOR i IN 1 .. 4 LOOP
            e := (e + (((a << 5) | (a >> 27)) & m) + (b # c # d) + 1859775393 + w[t]) & m;
            b := ((b << 30) | (b >> 2)) & m;
            d := (d + (((e << 5) | (e >> 27)) & m) + (a # b # c) + 1859775393 + w[t + 1]) & m;
            a := ((a << 30) | (a >> 2)) & m;
            c := (c + (((d << 5) | (d >> 27)) & m) + (e # a # b) + 1859775393 + w[t + 2]) & m;
            e := ((e << 30) | (e >> 2)) & m;
            b := (b + (((c << 5) | (c >> 27)) & m) + (d # e # a) + 1859775393 + w[t + 3]) & m;
            d := ((d << 30) | (d >> 2)) & m;
            a := (a + (((b << 5) | (b >> 27)) & m) + (c # d # e) + 1859775393 + w[t + 4]) & m;
            c := ((c << 30) | (c >> 2)) & m;
            t := t + 5;
        END LOOP;
        -- rounds 40-59: Maj(b, c, d) = (b and c) or (d and (b or c)), K = 0x8F1BBCDC
        FOR i IN 1 .. 4 LOOP
            e := (e + (((a << 5) | (a >> 27)) & m) + ((b & c) | (d & (b | c))) + 2400959708 + w[t]) & m;
            b := ((b << 30) | (b >> 2)) & m;
            d := (d + (((e << 5) | (e >> 27)) & m) + ((a & b) | (c & (a | b))) + 2400959708 + w[t + 1]) & m;
            a := ((a << 30) | (a >> 2)) & m;
            c := (c + (((d << 5) | (d >> 27)) & m) + ((e & a) | (b & (e | a))) + 2400959708 + w[t + 2]) & m;
            e := ((e << 30) | (e >> 2)) & m;
            b := (b + (((c << 5) | (c >> 27)) & m) + ((d & e) | (a & (d | e))) + 2400959708 + w[t + 3]) & m;
            d := ((d << 30) | (d >> 2)) & m;
            a := (a + (((b << 5) | (b >> 27)) & m) + ((c & d) | (e & (c | d))) + 2400959708 + w[t + 4]) & m;
            c := ((c << 30) | (c >> 2)) & m;
            t := t + 5;
        END LOOP;
        -- rounds 60-79: Parity, K = 0xCA62C1D6
        FOR i IN 1 .. 4 LOOP
            e := (e + (((a << 5) | (a >> 27)) & m) + (b # c # d) + 3395469782 + w[t]) & m;
            b := ((b << 30) | (b >> 2)) & m;
            d := (d + (((e << 5) | (e >> 27)) & m) + (a # b # c) + 3395469782 + w[t + 1]) & m;
            a := ((a << 30) | (a >> 2)) & m;
            c := (c + (((d << 5) | (d >> 27)) & m) + (e # a # b) + 3395469782 + w[t + 2]) & m;
            e := ((e << 30) | (e >> 2)) & m;
            b := (b + (((c << 5) | (c >> 27)) & m) + (d # e # a) + 3395469782 + w[t + 3]) & m;
            d := ((d << 30) | (d >> 2)) & m;
            a := (a + (((b << 5) | (b >> 27)) & m) + (c # d # e) + 3395469782 + w[t + 4]) & m;
            c := ((c << 30) | (c >> 2)) & m;
            t := t + 5;
        END LOOP;
        -- After 80 rounds (a multiple of five) the roles are back where they started.
        h0 := (h0 + a) & m; h1 := (h1 + b) & m; h2 := (h2 + c) & m; h3 := (h3 + d) & m; h4 := (h4 + e) & m;
    END LOOP;
    RETURN ARRAY[h0, h1, h2, h3, h4];
END $$;

-- Pads `tail` (FIPS 180-4 §5.1.1: 0x80, zeros, the 64-bit big-endian length in bits of the whole
-- message, `consumed` bytes of which went through omnidesk_sha1_blocks already), compresses it
-- and returns the 20-byte digest. Internal, for omnidesk_sha1 and the HMAC.
CREATE OR REPLACE FUNCTION omnidesk_sha1_finish(h bigint[], tail bytea, consumed bigint) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    n int := length(tail);
    s bigint[];
BEGIN
    s := omnidesk_sha1_blocks(h,
        tail || '\x80'::bytea || decode(repeat('00', (119 - n % 64) % 64), 'hex')
             || int8send((consumed + n) * 8));
    RETURN substr(int8send(s[1]), 5) || substr(int8send(s[2]), 5) || substr(int8send(s[3]), 5)
        || substr(int8send(s[4]), 5) || substr(int8send(s[5]), 5);
END $$;

-- SHA-1 (FIPS 180-4) of any bytea.
CREATE OR REPLACE FUNCTION omnidesk_sha1(data bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT omnidesk_sha1_finish(ARRAY[1732584193, 4023233417, 2562383102, 271733878, 3285377520]::bigint[], data, 0)
$$;

-- HMAC key schedule (RFC 2104): the SHA-1 states after the one block key xor ipad (0x36...) and
-- key xor opad (0x5c...), as one 10-element array: inner state || outer state. Keys longer
-- than the 64-byte block are hashed first, shorter ones zero-padded. Computing these once lets a
-- TOTP check over several time steps spend two compressions per step instead of four.
CREATE OR REPLACE FUNCTION omnidesk_hmac_sha1_states(key bytea) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    iv CONSTANT bigint[] := ARRAY[1732584193, 4023233417, 2562383102, 271733878, 3285377520];
    k bytea := key;
    ipad bytea;
    opad bytea;
    v int;
BEGIN
    IF length(k) > 64 THEN
        k := omnidesk_sha1(k);
    END IF;
    k := k || decode(repeat('00', 64 - length(k)), 'hex');
    ipad := k;
    opad := k;
    FOR i IN 0 .. 63 LOOP
        v := get_byte(k, i);
        ipad := set_byte(ipad, i, v # 54);
        opad := set_byte(opad, i, v # 92);
    END LOOP;
    RETURN omnidesk_sha1_blocks(iv, ipad) || omnidesk_sha1_blocks(iv, opad);
END $$;

-- HMAC-SHA1 from the states above: SHA1(opad-key || SHA1(ipad-key || message)).
CREATE OR REPLACE FUNCTION omnidesk_hmac_sha1_with_states(states bigint[], message bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT omnidesk_sha1_finish(states[6:10], omnidesk_sha1_finish(states[1:5], message, 64), 64)
$$;

-- HMAC-SHA1 (RFC 2104), 20 bytes.
CREATE OR REPLACE FUNCTION omnidesk_hmac_sha1(key bytea, message bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT omnidesk_hmac_sha1_with_states(omnidesk_hmac_sha1_states(key), message)
$$;

-- RFC 4648 base32 (the alphabet A-Z 2-7) to bytes: case-insensitive, whitespace ignored, the
-- trailing '=' padding optional. Anything else is refused with a message that names it.
CREATE OR REPLACE FUNCTION omnidesk_base32_decode(encoded text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    alphabet CONSTANT text := 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    s text := upper(regexp_replace(encoded, '\s+', '', 'g'));
    n int;
    ch text;
    v int;
    buffer bigint := 0;
    bits int := 0;
    hex text := '';
BEGIN
    s := rtrim(s, '=');
    n := length(s);
    FOR i IN 1 .. n LOOP
        ch := substr(s, i, 1);
        v := strpos(alphabet, ch) - 1;
        IF ch = '=' THEN
            RAISE EXCEPTION 'Not a base32 secret: padding ''='' at position % is not at the end', i
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF v < 0 THEN
            RAISE EXCEPTION 'Not a base32 secret: the character % at position % is not one of A-Z, 2-7',
                to_json(ch), i USING ERRCODE = 'invalid_parameter_value';
        END IF;
        buffer := (buffer << 5) | v;  -- holds at most 7 + 5 bits
        bits := bits + 5;
        IF bits >= 8 THEN
            bits := bits - 8;
            hex := hex || lpad(to_hex(buffer >> bits), 2, '0');
            buffer := buffer & ((1 << bits) - 1);
        END IF;
    END LOOP;
    -- 8 characters carry 5 bytes; a final group of 1, 3 or 6 characters cannot end on a byte.
    IF n % 8 IN (1, 3, 6) THEN
        RAISE EXCEPTION 'Not a base32 secret: its length (% characters without padding) cannot be base32', n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN decode(hex, 'hex');
END $$;

-- RFC 4226 HOTP: HMAC-SHA1 of the 8-byte big-endian counter, dynamic truncation, the last
-- `digits` decimal digits, zero-padded.
CREATE OR REPLACE FUNCTION omnidesk_hotp_from_digest(digest bytea, digits int) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    o int := get_byte(digest, 19) & 15;
    truncated bigint := ((get_byte(digest, o) & 127)::bigint << 24) | (get_byte(digest, o + 1) << 16)
                     | (get_byte(digest, o + 2) << 8) | get_byte(digest, o + 3);
BEGIN
    RETURN lpad((truncated % (10 ^ digits)::bigint)::text, digits, '0');
END $$;

CREATE OR REPLACE FUNCTION omnidesk_hotp(secret bytea, counter bigint, digits int DEFAULT 6) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF digits NOT BETWEEN 6 AND 9 THEN  -- RFC 4226 §5.3: at least 6; 31 bits hold 9 whole digits
        RAISE EXCEPTION 'HOTP codes have 6 to 9 digits, not %', digits USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF counter < 0 THEN
        RAISE EXCEPTION 'HOTP counter % is negative', counter USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN omnidesk_hotp_from_digest(omnidesk_hmac_sha1(secret, int8send(counter)), digits);
END $$;

-- RFC 6238 TOTP check (SHA-1, 6 digits): the time-step counter floor(unix time / step) whose code
-- equals `code`, trying every step from t - window to t + window; NULL when none does or when the
-- code is not exactly six ASCII digits. Every step in the window is computed whatever matches, so
-- the work does not depend on which step (if any) matched. The caller stores the returned
-- counter and refuses any later code whose counter is not greater: a code works once. Should two
-- steps of the window share a code (one chance in a million), the latest wins, so that rule also
-- refuses the same digits replayed a step later.
-- WINDOW is a reserved word, hence the quotes; in named notation it is "window" => 1.
CREATE OR REPLACE FUNCTION omnidesk_totp_matches(secret bytea, code text, at timestamptz DEFAULT now(),
                                      step int DEFAULT 30, "window" int DEFAULT 1) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    states bigint[];
    now_counter bigint;
    matched bigint;
    c bigint;
BEGIN
    IF step < 1 OR "window" < 0 OR "window" > 10 THEN
        RAISE EXCEPTION 'TOTP step must be positive and the window 0 to 10 steps (got step %, window %)', step, "window"
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF code !~ '^[0-9]{6}$' THEN
        RETURN NULL;
    END IF;
    states := omnidesk_hmac_sha1_states(secret);
    now_counter := floor(extract(epoch FROM at) / step)::bigint;
    FOR d IN -"window" .. "window" LOOP
        c := now_counter + d;
        CONTINUE WHEN c < 0;
        IF omnidesk_hotp_from_digest(omnidesk_hmac_sha1_with_states(states, int8send(c)), 6) = code THEN
            matched := c;
        END IF;
    END LOOP;
    RETURN matched;
END $$;

-- Backup codes: 8 characters shown as ABCD-EFGH. The stored form is (salt, hash) with
-- hash = sha256(salt || the normalised code in UTF-8); normalising drops whitespace and dashes and
-- upper-cases, so "abcd efgh" and "ABCD-EFGH" are the same code. A fresh random salt per code
-- (16 bytes: uuid_send(gen_random_uuid()) needs no extension) keeps equal codes from having equal
-- hashes. Check with omnidesk_backup_code_matches(input, salt, hash).
CREATE OR REPLACE FUNCTION omnidesk_normalize_backup_code(code text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT upper(regexp_replace(code, '[\s-]+', '', 'g'))
$$;

CREATE OR REPLACE FUNCTION omnidesk_hash_backup_code(code text, salt bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sha256(salt || convert_to(omnidesk_normalize_backup_code(code), 'UTF8'))
$$;

CREATE OR REPLACE FUNCTION omnidesk_backup_code_matches(code text, salt bytea, hash bytea) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT omnidesk_hash_backup_code(code, salt) = hash
$$;
