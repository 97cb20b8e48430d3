-- Turning two-factor off checks its code like signing in (migration 0017). Frozen once landed: a later
-- fix goes in a new file.
--
-- Until 0017, omnidesk_disable_two_factor(text) of security_0004.sql accepted any code of the current
-- ±1 step without recording it and raised on a wrong one, so a code seen over someone's shoulder
-- could be replayed within its window and wrong guesses were never counted. Now the code goes through
-- omnidesk_check_own_code (backup_codes_0015.sql): its step is recorded so it works once, and a wrong
-- code counts towards the same 5-tries lock as signing in. A wrong code is answered, not raised, so the
-- count survives; the function therefore returns jsonb ({ok: true} or the refusal) instead of void.
-- Where the roles require two-factor it is refused before any code is looked at (no code is used up).
--
-- Error codes as in security_0004.sql: ODC01 not a code, ODE01 2FA not set up, ODL01 locked,
-- ODR01 required by the roles.
CREATE FUNCTION omnidesk_disable_two_factor(code text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me record;
    refused jsonb;
    left_ integer;
BEGIN
    PERFORM omnidesk_require_session();
    SELECT * INTO me FROM omnidesk_me();
    IF (me.a).totp_secret IS NULL THEN
        RAISE EXCEPTION 'Two-factor authentication is not set up for this account' USING ERRCODE = 'ODE01';
    END IF;
    IF omnidesk_two_factor_required((me.u).id) THEN
        RAISE EXCEPTION 'Your roles require two-factor authentication; it cannot be turned off' USING ERRCODE = 'ODR01';
    END IF;
    refused := omnidesk_check_own_code((me.u).id, code);
    IF refused IS NOT NULL THEN
        IF refused->>'error' = 'wrong_code' THEN
            left_ := (refused->>'attempts_left')::integer;
            refused := refused || jsonb_build_object('message', format(
                'Wrong code; two-factor authentication stays on. %s more %s before the account is locked '
                'for 30 minutes', left_, CASE WHEN left_ = 1 THEN 'try' ELSE 'tries' END));
        END IF;
        RETURN refused;
    END IF;
    PERFORM omnidesk_clear_second_factor((me.u).id);
    PERFORM omnidesk_audit((me.u).id, 'two_factor_disabled', 'Turned off two-factor authentication');
    RETURN jsonb_build_object('ok', true);
END $$;
