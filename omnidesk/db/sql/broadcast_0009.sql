-- The broadcast workstation's rules in the database (migration 0009). Frozen once landed: a later fix
-- goes in a new file that a new migration loads (CREATE OR REPLACE).
--
--   * staff insert messages as drafts only, and as themselves; the message identifier always comes from
--     the template;
--   * submit (the creator's own TOTP), approve and reject (a user holding approve_cbc_message, with their
--     TOTP; not the creator while the two-person rule is on) each happen in one SECURITY DEFINER function:
--     the code check, the rule and the state change together, so neither the client nor psql can skip one;
--   * the TOTP check is the one of security_0004.sql (omnidesk_totp_matches, staff_auth.totp_last_counter,
--     failed_attempts and the 5-wrong-codes lock), so a code used to sign in or approve never works again;
--   * broadcast_message and broadcast_event rows are never deleted; events are never changed.
--
-- Error codes as in security_0004.sql: ODV01 invalid value, ODA01 refused action, ODC01 not a code,
-- ODE01 2FA not set up, ODL01 locked, 42501 permission.

-- Whether the statement runs as the tables' owner (a SECURITY DEFINER function of this file, the
-- migrations, the CLI) rather than as a staff login. Invoker rights on purpose. The invoker-rights
-- functions of this file still fix their search_path, with pg_temp last: a staff member's temporary
-- table named like ours must never be the one a guard reads.
CREATE FUNCTION omnidesk_broadcast_trusted() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT current_user::text = (SELECT tableowner::text FROM pg_tables
                                 WHERE schemaname = 'public' AND tablename = 'broadcast_message')
        OR coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
$$;

CREATE FUNCTION omnidesk_broadcast_user_has(uid integer, permission text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM staff_user u
        JOIN user_role ur ON ur.user_id = u.id
        JOIN role_permission rp ON rp.role_id = ur.role_id
        JOIN permission p ON p.id = rp.permission_id
        WHERE u.id = uid AND u.deleted_at IS NULL AND u.is_active AND p.name IN (permission, 'admin'))
$$;

-- Who takes the step. A staff connection needs its signed-in session and acts as itself, or, for an
-- approval, as the named colleague standing beside it (whose own TOTP code proves it). The owner's
-- connection (the CLI) must name the user; their code is checked all the same.
CREATE FUNCTION omnidesk_broadcast_acting_user(username text, allow_other boolean) RETURNS staff_user
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me staff_user;
    other staff_user;
BEGIN
    IF NOT omnidesk_is_system() THEN
        PERFORM omnidesk_require_session();
        SELECT * INTO me FROM staff_user WHERE login_role = session_user AND deleted_at IS NULL AND is_active;
        IF me.id IS NULL THEN
            RAISE EXCEPTION 'This database login is not an active OmniDesk staff user' USING ERRCODE = 'ODU01';
        END IF;
        IF coalesce(username, '') = '' OR lower(username) = me.username THEN
            RETURN me;
        END IF;
        IF NOT allow_other THEN
            RAISE EXCEPTION 'You can take this step only as yourself' USING ERRCODE = '42501';
        END IF;
    ELSIF coalesce(username, '') = '' THEN
        RAISE EXCEPTION 'Say which staff user takes this step (their authenticator code is checked)' USING ERRCODE = 'ODV01';
    END IF;
    SELECT * INTO other FROM staff_user WHERE lower(staff_user.username) = lower(omnidesk_broadcast_acting_user.username)
        AND deleted_at IS NULL AND is_active;
    IF other.id IS NULL THEN
        RAISE EXCEPTION 'There is no active staff user %', quote_literal(username) USING ERRCODE = 'ODV01';
    END IF;
    RETURN other;
END $$;

-- The TOTP code of user uid: NULL when accepted (its step is recorded, so it never works again), else
-- the refusal as jsonb (ok false, error, message). Wrong codes count towards the same 5-tries lock as
-- signing in; that is why a wrong code answers instead of raising (a raise would undo the count).
CREATE FUNCTION omnidesk_broadcast_check_code(uid integer, code text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    a staff_auth;
    who text := (SELECT username FROM staff_user WHERE id = uid);
    digits text := regexp_replace(coalesce(code, ''), '[\s-]+', '', 'g');
    now_ timestamptz := omnidesk_now();
    counter bigint;
    failures integer;
BEGIN
    INSERT INTO staff_auth (user_id) VALUES (uid) ON CONFLICT (user_id) DO NOTHING;
    SELECT * INTO a FROM staff_auth WHERE user_id = uid FOR UPDATE;
    IF a.locked_until IS NOT NULL AND a.locked_until > now_ THEN
        RAISE EXCEPTION 'The account of % is locked after wrong codes; it cannot confirm a broadcast now', who
            USING ERRCODE = 'ODL01';
    END IF;
    IF digits !~ '^[0-9]{6}$' THEN
        RAISE EXCEPTION 'That is not a code: enter the 6 digits the authenticator app of % shows', who
            USING ERRCODE = 'ODC01';
    END IF;
    IF a.totp_secret IS NULL THEN
        RAISE EXCEPTION '% has not set up two-factor authentication, which a broadcast step needs', who
            USING ERRCODE = 'ODE01';
    END IF;
    counter := omnidesk_totp_matches(omnidesk_base32_decode(a.totp_secret), digits, now_, 30, 1);
    IF counter IS NOT NULL AND counter <= coalesce(a.totp_last_counter, -1) THEN
        RETURN jsonb_build_object('ok', false, 'error', 'reused',
            'message', format('That code of %s has already been used; wait for the next one from the app', who));
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
            'message', format('Wrong code. After 5 wrong codes the account of %s is locked for 30 minutes', who));
    END IF;
    UPDATE staff_auth SET failed_attempts = failures WHERE user_id = uid;
    RETURN jsonb_build_object('ok', false, 'error', 'wrong_code', 'attempts_left', 5 - failures,
        'message', format('Wrong code for %s; %s more %s before the account is locked for 30 minutes',
                          who, 5 - failures, CASE WHEN 5 - failures = 1 THEN 'try' ELSE 'tries' END));
END $$;

CREATE FUNCTION omnidesk_broadcast_event(mid bigint, actor staff_user, event text, detail jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO broadcast_event (message_id, at, actor_user_id, actor_name, event, detail)
    VALUES (mid, omnidesk_now(), actor.id, coalesce(actor.username, session_user::text), event, detail)
$$;

CREATE FUNCTION omnidesk_broadcast_locked(mid bigint) RETURNS broadcast_message
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m broadcast_message;
BEGIN
    SELECT * INTO m FROM broadcast_message WHERE id = mid FOR UPDATE;
    IF m.id IS NULL THEN
        RAISE EXCEPTION 'There is no broadcast message #%', mid USING ERRCODE = 'ODV01';
    END IF;
    RETURN m;
END $$;

-- The creator confirms their draft with their own TOTP code. With the two-person rule on it waits for
-- an approver ("pending_approval"); without it, it is approved by that confirmation.
CREATE FUNCTION omnidesk_broadcast_submit(message_id bigint, code text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m broadcast_message := omnidesk_broadcast_locked(message_id);
    creator staff_user := (SELECT u FROM staff_user u WHERE u.id = m.created_by);
    actor staff_user := omnidesk_broadcast_acting_user(CASE WHEN omnidesk_is_system() THEN creator.username END, false);
    rule boolean := coalesce((SELECT two_person_rule FROM broadcast_setting WHERE id = 1), true);
    refused jsonb;
    now_ timestamptz := omnidesk_now();
BEGIN
    IF actor.id <> m.created_by THEN
        RAISE EXCEPTION 'Only its creator (%) submits message #% for approval', creator.username, m.id
            USING ERRCODE = 'ODA01';
    END IF;
    IF NOT omnidesk_broadcast_user_has(actor.id, 'create_cbc_message') THEN
        RAISE EXCEPTION '% may not submit broadcasts (needs the create_cbc_message permission)', actor.username
            USING ERRCODE = '42501';
    END IF;
    IF m.status <> 'draft' THEN
        RAISE EXCEPTION 'Message #% is %; only a draft can be submitted', m.id, replace(m.status, '_', ' ')
            USING ERRCODE = 'ODA01';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(m.texts) t WHERE btrim(coalesce(t->>'text', '')) = '') THEN
        RAISE EXCEPTION 'Message #% has an empty text; write it or remove that language', m.id USING ERRCODE = 'ODV01';
    END IF;
    refused := omnidesk_broadcast_check_code(actor.id, code);
    IF refused IS NOT NULL THEN
        PERFORM omnidesk_broadcast_event(m.id, actor, 'code_refused', jsonb_build_object('step', 'submit') || refused);
        RETURN refused;
    END IF;
    IF rule THEN
        UPDATE broadcast_message SET status = 'pending_approval', submitted_at = now_, updated_at = now_
        WHERE id = m.id;
        PERFORM omnidesk_broadcast_event(m.id, actor, 'submitted', jsonb_build_object('two_person_rule', true));
        RETURN jsonb_build_object('ok', true, 'status', 'pending_approval');
    END IF;
    UPDATE broadcast_message SET status = 'approved', submitted_at = now_, approved_by = actor.id,
        approved_at = now_, updated_at = now_
    WHERE id = m.id;
    PERFORM omnidesk_broadcast_event(m.id, actor, 'approved', jsonb_build_object('two_person_rule', false));
    RETURN jsonb_build_object('ok', true, 'status', 'approved');
END $$;

-- Approving (decision 'approve') or rejecting ('reject', with a reason) a message waiting for approval.
CREATE FUNCTION omnidesk_broadcast_decide(message_id bigint, decision text, code text, reason text, approver text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m broadcast_message := omnidesk_broadcast_locked(message_id);
    actor staff_user := omnidesk_broadcast_acting_user(approver, true);
    rule boolean := coalesce((SELECT two_person_rule FROM broadcast_setting WHERE id = 1), true);
    refused jsonb;
    now_ timestamptz := omnidesk_now();
    doing text := CASE decision WHEN 'approve' THEN 'approve' ELSE 'reject' END;
BEGIN
    IF decision NOT IN ('approve', 'reject') THEN
        RAISE EXCEPTION 'A decision is approve or reject, not %', quote_literal(decision) USING ERRCODE = 'ODV01';
    END IF;
    IF NOT omnidesk_broadcast_user_has(actor.id, 'approve_cbc_message') THEN
        RAISE EXCEPTION '% may not % broadcasts (needs the approve_cbc_message permission)', actor.username, doing
            USING ERRCODE = '42501';
    END IF;
    IF m.status <> 'pending_approval' THEN
        RAISE EXCEPTION 'Message #% is %; only a message waiting for approval can be %', m.id,
            replace(m.status, '_', ' '), CASE doing WHEN 'approve' THEN 'approved' ELSE 'rejected' END
            USING ERRCODE = 'ODA01';
    END IF;
    -- A message waits for approval only because the rule was on when it was submitted, so its creator
    -- never decides it, whatever the setting says now: switching the rule off cannot approve it.
    IF actor.id = m.created_by THEN
        RAISE EXCEPTION 'The two-person rule is on: % created message #% and cannot % it; another approver must',
            actor.username, m.id, doing USING ERRCODE = 'ODA01';
    END IF;
    IF decision = 'reject' AND btrim(coalesce(reason, '')) = '' THEN
        RAISE EXCEPTION 'Say why message #% is rejected: the creator reads the reason', m.id USING ERRCODE = 'ODV01';
    END IF;
    refused := omnidesk_broadcast_check_code(actor.id, code);
    IF refused IS NOT NULL THEN
        PERFORM omnidesk_broadcast_event(m.id, actor, 'code_refused', jsonb_build_object('step', doing) || refused);
        RETURN refused;
    END IF;
    IF decision = 'approve' THEN
        UPDATE broadcast_message SET status = 'approved', approved_by = actor.id, approved_at = now_, updated_at = now_
        WHERE id = m.id;
        PERFORM omnidesk_broadcast_event(m.id, actor, 'approved', '{}');
    ELSE
        UPDATE broadcast_message SET status = 'rejected', rejected_by = actor.id, rejected_at = now_,
            reject_reason = btrim(reason), finished_at = now_, updated_at = now_
        WHERE id = m.id;
        PERFORM omnidesk_broadcast_event(m.id, actor, 'rejected', jsonb_build_object('reason', btrim(reason)));
    END IF;
    RETURN jsonb_build_object('ok', true, 'status', CASE decision WHEN 'approve' THEN 'approved' ELSE 'rejected' END);
END $$;

-- The guard of direct writes by staff (the definer functions above are trusted).
CREATE FUNCTION omnidesk_broadcast_message_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    me integer;
    identifier integer;
BEGIN
    IF TG_OP = 'INSERT' AND NEW.template_id IS NOT NULL THEN
        SELECT message_identifier INTO identifier FROM broadcast_template WHERE id = NEW.template_id;
        NEW.message_identifier := identifier;  -- never what the client typed
    END IF;
    IF omnidesk_broadcast_trusted() THEN
        RETURN NEW;
    END IF;
    me := omnidesk_current_staff_id();
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'draft' THEN
            RAISE EXCEPTION 'A message starts as a draft; its creator submits it with their authenticator code'
                USING ERRCODE = '42501';
        END IF;
        IF NEW.template_id IS NULL THEN
            RAISE EXCEPTION 'A message is made from a template: its message identifier comes from there'
                USING ERRCODE = 'ODV01';
        END IF;
        NEW.created_by := me;
        NEW.submitted_at := NULL; NEW.approved_by := NULL; NEW.approved_at := NULL; NEW.rejected_by := NULL;
        NEW.rejected_at := NULL; NEW.reject_reason := NULL; NEW.transmit_claimed_at := NULL;
        NEW.transmitted_at := NULL; NEW.finished_at := NULL; NEW.warning_id := NULL; NEW.update_count := 0;
        RETURN NEW;
    END IF;
    IF (NEW.template_id, NEW.message_identifier, NEW.created_by, NEW.created_at, NEW.submitted_at, NEW.approved_by,
        NEW.approved_at, NEW.rejected_by, NEW.rejected_at, NEW.reject_reason)
       IS DISTINCT FROM
       (OLD.template_id, OLD.message_identifier, OLD.created_by, OLD.created_at, OLD.submitted_at, OLD.approved_by,
        OLD.approved_at, OLD.rejected_by, OLD.rejected_at, OLD.reject_reason) THEN
        RAISE EXCEPTION 'Message #%: its template, identifier, creator and approval are set only by the approval functions', OLD.id
            USING ERRCODE = '42501';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'draft' AND NEW.status = 'cancelled')
        OR (OLD.status = 'pending_approval' AND NEW.status = 'cancelled')
        OR (OLD.status = 'approved' AND NEW.status IN ('active', 'cancelled'))
        OR (OLD.status = 'active' AND NEW.status IN ('cancelled', 'expired'))) THEN
        RAISE EXCEPTION 'Message #% is %: it cannot become % that way (submitting, approving and rejecting take an authenticator code)',
            OLD.id, replace(OLD.status, '_', ' '), replace(NEW.status, '_', ' ') USING ERRCODE = '42501';
    END IF;
    IF NEW.status = 'cancelled' AND OLD.status <> 'cancelled'
       AND NOT (OLD.status IN ('draft', 'pending_approval') AND OLD.created_by = me)
       AND NOT omnidesk_has('delete_cbc_message') THEN
        RAISE EXCEPTION 'Stopping message #% needs the delete_cbc_message permission', OLD.id USING ERRCODE = '42501';
    END IF;
    IF NEW.warning_id IS DISTINCT FROM OLD.warning_id AND NOT (
           OLD.warning_id IS NULL AND OLD.status = 'approved' AND NEW.status = 'active'
       AND EXISTS (SELECT 1 FROM cbc_warning w WHERE w.id = NEW.warning_id
                   AND w.message_identifier = OLD.message_identifier)) THEN
        RAISE EXCEPTION 'Message #%: its warning is linked once, when it is transmitted', OLD.id USING ERRCODE = '42501';
    END IF;
    IF (NEW.category, NEW.repetition_period, NEW.number_of_broadcasts, NEW.warning_period, NEW.texts, NEW.target,
        NEW.target_cells, NEW.target_summary)
       IS DISTINCT FROM
       (OLD.category, OLD.repetition_period, OLD.number_of_broadcasts, OLD.warning_period, OLD.texts, OLD.target,
        OLD.target_cells, OLD.target_summary)
       AND NOT (OLD.status = 'draft' AND OLD.created_by = me)
       AND NOT (OLD.status = 'active' AND omnidesk_has('update_cbc_message')) THEN
        RAISE EXCEPTION 'Message #% is %: its content can change only while it is its creator''s draft, or as an update of an active message',
            OLD.id, replace(OLD.status, '_', ' ') USING ERRCODE = '42501';
    END IF;
    IF NEW.update_count IS DISTINCT FROM OLD.update_count AND NOT (
        OLD.status = 'active' AND NEW.update_count = OLD.update_count + 1 AND omnidesk_has('update_cbc_message')) THEN
        RAISE EXCEPTION 'Message #%: the update count only goes up by one with an update', OLD.id USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;

-- History is never deleted, and an event never changes once written.
CREATE FUNCTION omnidesk_broadcast_keep_history() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'Broadcast history entries never change' USING ERRCODE = '42501';
    END IF;
    RAISE EXCEPTION 'Broadcast history is never deleted (% keeps every message and step; a draft is archived by cancelling it)',
        TG_TABLE_NAME USING ERRCODE = '42501';
END $$;

-- Staff write history entries as themselves, whatever the client puts in the actor columns.
CREATE FUNCTION omnidesk_broadcast_event_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    me integer;
BEGIN
    IF NOT omnidesk_broadcast_trusted() THEN
        IF NEW.event IN ('submitted', 'approved', 'rejected', 'code_refused', 'expired') THEN
            RAISE EXCEPTION 'The history entry "%" is written by the database itself', NEW.event USING ERRCODE = '42501';
        END IF;
        me := omnidesk_current_staff_id();
        NEW.actor_user_id := me;
        NEW.actor_name := coalesce((SELECT username FROM staff_user WHERE id = me), session_user::text);
        NEW.at := omnidesk_now();
    END IF;
    RETURN NEW;
END $$;

-- The engine's warning ended (warning period over, or stopped on every peer): so did its message.
CREATE FUNCTION omnidesk_broadcast_follow_warning() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m broadcast_message;
BEGIN
    IF NEW.state IN ('expired', 'stopped') AND NEW.state IS DISTINCT FROM OLD.state THEN
        FOR m IN SELECT * FROM broadcast_message WHERE warning_id = NEW.id AND status = 'active' FOR UPDATE LOOP
            UPDATE broadcast_message
            SET status = CASE NEW.state WHEN 'expired' THEN 'expired' ELSE 'cancelled' END,
                finished_at = coalesce(NEW.finished_at, omnidesk_now()), updated_at = omnidesk_now()
            WHERE id = m.id;
            INSERT INTO broadcast_event (message_id, at, actor_user_id, actor_name, event, detail)
            VALUES (m.id, omnidesk_now(), NULL, 'cell broadcast centre',
                    CASE NEW.state WHEN 'expired' THEN 'expired' ELSE 'stopped' END,
                    jsonb_build_object('warning_id', NEW.id, 'reason', NEW.reason));
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

-- Other workstations follow messages on one channel, as they follow the engine on 'omnidesk_cbc' (0002).
CREATE FUNCTION omnidesk_notify_broadcast_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_notify('omnidesk_broadcast', json_build_object(
        'table', TG_TABLE_NAME, 'op', TG_OP, 'id', NEW.id, 'status', NEW.status)::text);
    RETURN NULL;
END $$;

-- Changing the broadcast settings (the two-person rule above all) is recorded with who did it.
CREATE FUNCTION omnidesk_broadcast_setting_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF (NEW.two_person_rule, NEW.text_limit) IS DISTINCT FROM (OLD.two_person_rule, OLD.text_limit) THEN
        INSERT INTO activity_log (actor_user_id, actor_name, entity_type, entity_id, action, summary, changes)
        SELECT u.id, coalesce(u.username, session_user::text), 'broadcast_setting', NEW.id, 'update',
               'Broadcast settings: two-person rule ' || CASE WHEN NEW.two_person_rule THEN 'on' ELSE 'OFF' END
               || ', text limit ' || NEW.text_limit,
               jsonb_build_object('two_person_rule', jsonb_build_array(OLD.two_person_rule, NEW.two_person_rule),
                                  'text_limit', jsonb_build_array(OLD.text_limit, NEW.text_limit))
        FROM (SELECT 1) one LEFT JOIN staff_user u ON u.login_role = session_user;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER broadcast_setting_audit AFTER UPDATE ON broadcast_setting
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_setting_audit();
CREATE TRIGGER broadcast_message_notify AFTER INSERT OR UPDATE ON broadcast_message
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_broadcast_change();
CREATE TRIGGER broadcast_message_guard BEFORE INSERT OR UPDATE ON broadcast_message
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_message_guard();
CREATE TRIGGER broadcast_message_keep BEFORE DELETE ON broadcast_message
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_keep_history();
CREATE TRIGGER broadcast_message_keep_truncate BEFORE TRUNCATE ON broadcast_message
    FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_broadcast_keep_history();
CREATE TRIGGER broadcast_event_keep BEFORE UPDATE OR DELETE ON broadcast_event
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_keep_history();
CREATE TRIGGER broadcast_event_keep_truncate BEFORE TRUNCATE ON broadcast_event
    FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_broadcast_keep_history();
CREATE TRIGGER broadcast_event_stamp BEFORE INSERT ON broadcast_event
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_event_stamp();
CREATE TRIGGER broadcast_follow_warning AFTER UPDATE OF state ON cbc_warning
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_follow_warning();
