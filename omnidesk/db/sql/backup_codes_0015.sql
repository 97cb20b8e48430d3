-- New backup codes need proof (migration 0015). Frozen once landed: a later fix goes in a new file.
--
-- Until 0015, omnidesk_regenerate_backup_codes(text[]) needed only a live session, so anyone at an
-- unlocked desk (or with psql on the staff member's connection) could mint a permanent second factor
-- for the account. Now the function itself asks for a current authenticator code, checked the way
-- omnidesk_verify_code (security_0004.sql) checks one: pyotp semantics, the step used is recorded in
-- staff_auth.totp_last_counter so no code works twice, and wrong codes count towards the same
-- 5-tries lock as signing in. A backup code is no proof here: that would let one leaked code renew
-- the whole set.
--
-- Error codes as in security_0004.sql: ODC01 not a code, ODE01 2FA not set up, ODL01 locked.

-- NULL when `code` is a current, unused TOTP code of user `uid` (its step is then recorded), else the
-- refusal as jsonb (ok false, error, message). A wrong code answers instead of raising: a raise would
-- undo the count of failures.
CREATE FUNCTION omnidesk_check_own_code(uid integer, code text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    a staff_auth;
    digits text := regexp_replace(coalesce(code, ''), '[\s-]+', '', 'g');
    now_ timestamptz := omnidesk_now();
    counter bigint;
    failures integer;
BEGIN
    INSERT INTO staff_auth (user_id) VALUES (uid) ON CONFLICT (user_id) DO NOTHING;
    SELECT * INTO a FROM staff_auth WHERE user_id = uid FOR UPDATE;
    IF a.locked_until IS NOT NULL AND a.locked_until > now_ THEN
        RAISE EXCEPTION 'Your account is locked after wrong codes until %; try again then',
            to_char(a.locked_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' USING ERRCODE = 'ODL01';
    END IF;
    IF digits !~ '^[0-9]{6}$' THEN
        RAISE EXCEPTION 'That is not a code: enter the 6 digits your authenticator app shows now'
            USING ERRCODE = 'ODC01';
    END IF;
    IF a.totp_secret IS NULL THEN
        RAISE EXCEPTION 'Two-factor authentication is not set up for this account' USING ERRCODE = 'ODE01';
    END IF;
    counter := omnidesk_totp_matches(omnidesk_base32_decode(a.totp_secret), digits, now_, 30, 1);
    IF counter IS NOT NULL AND counter <= coalesce(a.totp_last_counter, -1) THEN
        RETURN jsonb_build_object('ok', false, 'error', 'reused',
            'message', 'That code has already been used; wait for the next one from your app');
    END IF;
    IF counter IS NOT NULL THEN
        UPDATE staff_auth SET totp_last_counter = counter, failed_attempts = 0 WHERE user_id = uid;
        RETURN NULL;
    END IF;
    failures := a.failed_attempts + 1;
    IF failures >= 5 THEN
        UPDATE staff_auth SET failed_attempts = 0, locked_until = now_ + interval '30 minutes' WHERE user_id = uid;
        PERFORM omnidesk_audit(uid, 'locked', 'Locked for 30 minutes after 5 wrong codes');
        RETURN jsonb_build_object('ok', false, 'error', 'locked',
            'message', 'Wrong code. After 5 wrong codes the account is locked for 30 minutes');
    END IF;
    UPDATE staff_auth SET failed_attempts = failures WHERE user_id = uid;
    RETURN jsonb_build_object('ok', false, 'error', 'wrong_code', 'attempts_left', 5 - failures,
        'message', format('Wrong code; no new backup codes were made. %s more %s before the account is locked '
                          'for 30 minutes', 5 - failures, CASE WHEN 5 - failures = 1 THEN 'try' ELSE 'tries' END));
END $$;

-- Replaces 0004's omnidesk_regenerate_backup_codes(text[]) (dropped by the migration): the same
-- work, done only after a current code was accepted. Answers {ok: true} or the refusal of the code.
CREATE FUNCTION omnidesk_regenerate_backup_codes(code text, backup_codes text[]) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me record;
    refused jsonb;
BEGIN
    PERFORM omnidesk_require_session();
    SELECT * INTO me FROM omnidesk_me();
    IF (me.a).totp_secret IS NULL THEN
        RAISE EXCEPTION 'Two-factor authentication is not set up for this account' USING ERRCODE = 'ODE01';
    END IF;
    refused := omnidesk_check_own_code((me.u).id, code);
    IF refused IS NOT NULL THEN
        RETURN refused;
    END IF;
    PERFORM omnidesk_store_backup_codes((me.u).id, backup_codes);
    PERFORM omnidesk_audit((me.u).id, 'backup_codes_regenerated', 'New backup codes; the old ones no longer work');
    RETURN jsonb_build_object('ok', true);
END $$;
