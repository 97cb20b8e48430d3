-- An update of an active warning goes through the same approval as the warning itself (migration 0013).
-- Frozen once landed, like broadcast_0009.sql, whose helpers it reuses (omnidesk_broadcast_trusted,
-- omnidesk_broadcast_acting_user, omnidesk_broadcast_check_code, omnidesk_broadcast_user_has,
-- omnidesk_broadcast_event, omnidesk_broadcast_locked).
--
--   * omnidesk_broadcast_request_update: a holder of update_cbc_message asks for new texts / repetitions /
--     repetition period of an ACTIVE message with their own TOTP code. With the two-person rule on the
--     request waits ("pending_approval"); with it off, that confirmation approves it.
--   * omnidesk_broadcast_decide_update: a different user holding approve_cbc_message approves it or rejects
--     it (with a reason), with their own code.
--   * omnidesk_broadcast_claim_update: the workstation about to hand an approved request to the CBC engine
--     claims it, so two workstations never send it twice; a claim older than 5 minutes (a workstation that
--     died before the engine got the command) can be taken over.
--   * handing it over is an INSERT into cbc_command (cbc.store.request_update); the trigger on cbc_command
--     applies the claimed request in the same transaction (omnidesk_broadcast_apply_update): request "sent",
--     message texts / parameters replaced, update_count + 1, a history entry. A staff login can no longer
--     queue an update of a broadcast message's warning any other way, nor change an active message's
--     content or update count directly (the guard below).
--   * omnidesk_broadcast_update_failed: the engine refused the claimed request; it is "failed" with the
--     reason, and the message keeps its content.
--
-- Error codes as in broadcast_0009.sql.

-- The guard of 0009, with the one change this migration is for: staff may no longer change an active
-- message's content or update count; only the trusted path (omnidesk_broadcast_apply_update) does.
CREATE OR REPLACE FUNCTION omnidesk_broadcast_message_guard() RETURNS trigger
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
       AND NOT (OLD.status = 'draft' AND OLD.created_by = me) THEN
        RAISE EXCEPTION 'Message #% is %: its content changes only while it is its creator''s draft; an active message changes by an update request, confirmed with an authenticator code (and approved under the two-person rule)',
            OLD.id, replace(OLD.status, '_', ' ') USING ERRCODE = '42501';
    END IF;
    IF NEW.update_count IS DISTINCT FROM OLD.update_count THEN
        RAISE EXCEPTION 'Message #%: the update count goes up only when an approved update request is sent', OLD.id
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;

-- The history entries staff's own service code writes (omnidesk/broadcast/service.py); every other kind
-- is written only by the database's functions. An allow-list: a new kind is refused until added here.
CREATE OR REPLACE FUNCTION omnidesk_broadcast_event_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    me integer;
BEGIN
    IF NOT omnidesk_broadcast_trusted() THEN
        IF NEW.event NOT IN ('created', 'transmitted', 'stop_requested', 'stopped', 'cancelled') THEN
            RAISE EXCEPTION 'The history entry "%" is written by the database itself', NEW.event USING ERRCODE = '42501';
        END IF;
        me := omnidesk_current_staff_id();
        NEW.actor_user_id := me;
        NEW.actor_name := coalesce((SELECT username FROM staff_user WHERE id = me), session_user::text);
        NEW.at := omnidesk_now();
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION omnidesk_broadcast_update_locked(update_id bigint) RETURNS broadcast_update
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r broadcast_update;
BEGIN
    SELECT * INTO r FROM broadcast_update WHERE id = update_id FOR UPDATE;
    IF r.id IS NULL THEN
        RAISE EXCEPTION 'There is no update request #%', update_id USING ERRCODE = 'ODV01';
    END IF;
    RETURN r;
END $$;

-- What the request changes, as the CBC engine's update command carries it (cbc_command.payload).
CREATE FUNCTION omnidesk_broadcast_update_changes(r broadcast_update) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('texts', r.texts, 'number_of_broadcasts', r.number_of_broadcasts,
                                                'repetition_period', r.repetition_period))
$$;

-- Ask for an update of an active message, with the requester's own TOTP code. requester: a staff login
-- acts as itself (NULL or its own name); the owner's connection (the CLI) names the user.
CREATE FUNCTION omnidesk_broadcast_request_update(message_id bigint, code text, new_texts jsonb,
                                                  new_broadcasts integer, new_period integer, requester text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m broadcast_message := omnidesk_broadcast_locked(message_id);
    actor staff_user := omnidesk_broadcast_acting_user(requester, false);
    rule boolean := coalesce((SELECT two_person_rule FROM broadcast_setting WHERE id = 1), true);
    open_request bigint;
    refused jsonb;
    r broadcast_update;
    now_ timestamptz := omnidesk_now();
BEGIN
    IF NOT omnidesk_broadcast_user_has(actor.id, 'update_cbc_message') THEN
        RAISE EXCEPTION '% may not update broadcasts (needs the update_cbc_message permission)', actor.username
            USING ERRCODE = '42501';
    END IF;
    IF m.status <> 'active' OR m.warning_id IS NULL THEN
        RAISE EXCEPTION 'Message #% is %; only an active message can be updated', m.id, replace(m.status, '_', ' ')
            USING ERRCODE = 'ODA01';
    END IF;
    IF new_texts IS NULL AND new_broadcasts IS NULL AND new_period IS NULL THEN
        RAISE EXCEPTION 'The update of message #% changes nothing: give new texts or parameters', m.id
            USING ERRCODE = 'ODV01';
    END IF;
    IF new_texts IS NOT NULL AND (jsonb_typeof(new_texts) <> 'array'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(new_texts) t WHERE btrim(coalesce(t->>'text', '')) = '')
           OR (SELECT array_agg(t->>'language' ORDER BY n) FROM jsonb_array_elements(new_texts) WITH ORDINALITY x(t, n))
              IS DISTINCT FROM
              (SELECT array_agg(t->>'language' ORDER BY n) FROM jsonb_array_elements(m.texts) WITH ORDINALITY x(t, n))) THEN
        RAISE EXCEPTION 'An update of message #% gives a text for each of its languages (%), in that order, none empty',
            m.id, (SELECT string_agg(t->>'language', ', ') FROM jsonb_array_elements(m.texts) t) USING ERRCODE = 'ODV01';
    END IF;
    SELECT id INTO open_request FROM broadcast_update u
    WHERE u.message_id = m.id AND u.status IN ('pending_approval', 'approved');
    IF open_request IS NOT NULL THEN
        RAISE EXCEPTION 'Update request #% of message #% is still open; it must be sent or rejected before another',
            open_request, m.id USING ERRCODE = 'ODA01';
    END IF;
    refused := omnidesk_broadcast_check_code(actor.id, code);
    IF refused IS NOT NULL THEN
        PERFORM omnidesk_broadcast_event(m.id, actor, 'code_refused', jsonb_build_object('step', 'request_update') || refused);
        RETURN refused;
    END IF;
    INSERT INTO broadcast_update (message_id, requested_by, requested_at, texts, number_of_broadcasts,
                                  repetition_period, status, approved_by, approved_at)
    VALUES (m.id, actor.id, now_, new_texts, new_broadcasts, new_period,
            CASE WHEN rule THEN 'pending_approval' ELSE 'approved' END,
            CASE WHEN rule THEN NULL ELSE actor.id END, CASE WHEN rule THEN NULL ELSE now_ END)
    RETURNING * INTO r;
    PERFORM omnidesk_broadcast_event(m.id, actor, 'update_requested',
        jsonb_build_object('update', r.id, 'two_person_rule', rule) || omnidesk_broadcast_update_changes(r));
    IF NOT rule THEN
        PERFORM omnidesk_broadcast_event(m.id, actor, 'update_approved',
            jsonb_build_object('update', r.id, 'two_person_rule', false));
    END IF;
    PERFORM pg_notify('omnidesk_broadcast', json_build_object(
        'table', 'broadcast_update', 'op', 'INSERT', 'id', m.id, 'update', r.id, 'status', r.status)::text);
    RETURN jsonb_build_object('ok', true, 'status', r.status, 'update', r.id);
END $$;

-- Approve ('approve') or reject ('reject', with a reason) an update request waiting for approval.
CREATE FUNCTION omnidesk_broadcast_decide_update(update_id bigint, decision text, code text, reason text,
                                                 approver text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r broadcast_update := omnidesk_broadcast_update_locked(update_id);
    m broadcast_message := omnidesk_broadcast_locked(r.message_id);
    actor staff_user := omnidesk_broadcast_acting_user(approver, true);
    doing text := CASE decision WHEN 'approve' THEN 'approve' ELSE 'reject' END;
    refused jsonb;
    now_ timestamptz := omnidesk_now();
BEGIN
    IF decision NOT IN ('approve', 'reject') THEN
        RAISE EXCEPTION 'A decision is approve or reject, not %', quote_literal(decision) USING ERRCODE = 'ODV01';
    END IF;
    IF NOT omnidesk_broadcast_user_has(actor.id, 'approve_cbc_message') THEN
        RAISE EXCEPTION '% may not % updates of broadcasts (needs the approve_cbc_message permission)', actor.username, doing
            USING ERRCODE = '42501';
    END IF;
    IF r.status <> 'pending_approval' THEN
        RAISE EXCEPTION 'Update request #% is %; only one waiting for approval can be %', r.id,
            replace(r.status, '_', ' '), CASE doing WHEN 'approve' THEN 'approved' ELSE 'rejected' END
            USING ERRCODE = 'ODA01';
    END IF;
    -- It waits only because the rule was on when it was asked for: its requester never decides it.
    IF actor.id = r.requested_by THEN
        RAISE EXCEPTION 'The two-person rule is on: % asked for update #% of message #% and cannot % it; another approver must',
            actor.username, r.id, m.id, doing USING ERRCODE = 'ODA01';
    END IF;
    IF decision = 'approve' AND m.status <> 'active' THEN
        RAISE EXCEPTION 'Message #% is % now; its update #% can no longer be approved (reject it)', m.id,
            replace(m.status, '_', ' '), r.id USING ERRCODE = 'ODA01';
    END IF;
    IF decision = 'reject' AND btrim(coalesce(reason, '')) = '' THEN
        RAISE EXCEPTION 'Say why update #% is rejected: its requester reads the reason', r.id USING ERRCODE = 'ODV01';
    END IF;
    refused := omnidesk_broadcast_check_code(actor.id, code);
    IF refused IS NOT NULL THEN
        PERFORM omnidesk_broadcast_event(m.id, actor, 'code_refused',
            jsonb_build_object('step', doing || '_update', 'update', r.id) || refused);
        RETURN refused;
    END IF;
    IF decision = 'approve' THEN
        UPDATE broadcast_update SET status = 'approved', approved_by = actor.id, approved_at = now_ WHERE id = r.id;
        PERFORM omnidesk_broadcast_event(m.id, actor, 'update_approved', jsonb_build_object('update', r.id));
    ELSE
        UPDATE broadcast_update SET status = 'rejected', rejected_by = actor.id, rejected_at = now_,
            reject_reason = btrim(reason) WHERE id = r.id;
        PERFORM omnidesk_broadcast_event(m.id, actor, 'update_rejected',
            jsonb_build_object('update', r.id, 'reason', btrim(reason)));
    END IF;
    PERFORM pg_notify('omnidesk_broadcast', json_build_object(
        'table', 'broadcast_update', 'op', 'UPDATE', 'id', m.id, 'update', r.id,
        'status', CASE doing WHEN 'approve' THEN 'approved' ELSE 'rejected' END)::text);
    RETURN jsonb_build_object('ok', true, 'update', r.id,
                              'status', CASE doing WHEN 'approve' THEN 'approved' ELSE 'rejected' END);
END $$;

-- The workstation that hands an approved request to the engine claims it first. Answers the request's
-- changes (the engine command's payload) and the message's warning.
CREATE FUNCTION omnidesk_broadcast_claim_update(update_id bigint, actor_name text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r broadcast_update := omnidesk_broadcast_update_locked(update_id);
    m broadcast_message := omnidesk_broadcast_locked(r.message_id);
    actor staff_user := omnidesk_broadcast_acting_user(actor_name, false);
    now_ timestamptz := omnidesk_now();
BEGIN
    IF NOT omnidesk_broadcast_user_has(actor.id, 'update_cbc_message') THEN
        RAISE EXCEPTION '% may not send updates of broadcasts (needs the update_cbc_message permission)', actor.username
            USING ERRCODE = '42501';
    END IF;
    IF r.status <> 'approved' THEN
        RAISE EXCEPTION 'Update request #% is %; only an approved update is sent', r.id, replace(r.status, '_', ' ')
            USING ERRCODE = 'ODA01';
    END IF;
    IF r.claimed_at IS NOT NULL AND r.claimed_at > now_ - interval '5 minutes' THEN
        RAISE EXCEPTION 'Update request #% is being sent from another workstation (since %); a claim older than 5 minutes can be taken over',
            r.id, to_char(r.claimed_at, 'HH24:MI:SS') USING ERRCODE = 'ODA01';
    END IF;
    IF m.status <> 'active' OR m.warning_id IS NULL THEN
        UPDATE broadcast_update SET status = 'failed', failed_at = now_,
            failure_reason = format('message #%s was %s before it was sent', m.id, replace(m.status, '_', ' '))
        WHERE id = r.id;
        PERFORM omnidesk_broadcast_event(m.id, actor, 'update_failed',
            jsonb_build_object('update', r.id, 'reason', 'the message is no longer active'));
        RETURN jsonb_build_object('ok', false, 'update', r.id, 'status', 'failed',
                                  'message', format('Message #%s is %s; update #%s was not sent', m.id,
                                                    replace(m.status, '_', ' '), r.id));
    END IF;
    UPDATE broadcast_update SET claimed_by = actor.id, claimed_at = now_ WHERE id = r.id;
    RETURN jsonb_build_object('ok', true, 'update', r.id, 'message', m.id, 'warning', m.warning_id,
                              'changes', omnidesk_broadcast_update_changes(r));
END $$;

-- The trusted step: an approved, claimed request was handed to the engine as cbc_command #command_id. The
-- request becomes "sent" and its content the message's, with update_count + 1, in the same transaction.
CREATE FUNCTION omnidesk_broadcast_apply_update(r broadcast_update, command_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m broadcast_message := omnidesk_broadcast_locked(r.message_id);
    actor staff_user := (SELECT u FROM staff_user u WHERE u.id = r.claimed_by);
    now_ timestamptz := omnidesk_now();
BEGIN
    UPDATE broadcast_update SET status = 'sent', sent_at = now_, command_id = omnidesk_broadcast_apply_update.command_id,
        update_number = m.update_count + 1
    WHERE id = r.id;
    UPDATE broadcast_message SET texts = coalesce(r.texts, texts),
        number_of_broadcasts = coalesce(r.number_of_broadcasts, number_of_broadcasts),
        repetition_period = coalesce(r.repetition_period, repetition_period),
        update_count = update_count + 1, updated_at = now_
    WHERE id = m.id;
    PERFORM omnidesk_broadcast_event(m.id, actor, 'updated',
        jsonb_build_object('update', r.id, 'update_count', m.update_count + 1,
                           'requested_by', (SELECT username FROM staff_user WHERE id = r.requested_by),
                           'approved_by', (SELECT username FROM staff_user WHERE id = r.approved_by))
        || omnidesk_broadcast_update_changes(r));
END $$;

-- An update command for the warning of a broadcast message is the hand-over of its claimed, approved
-- request, with exactly that request's changes; nothing else, not even from the owner's connection
-- (`omnidesk cbc update`). Nor does a staff login send that warning again. Warnings sent without the
-- broadcast workstation keep their own rules.
CREATE FUNCTION omnidesk_broadcast_command_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m broadcast_message;
    r broadcast_update;
BEGIN
    IF NEW.kind = 'stop' THEN
        RETURN NULL;
    END IF;
    SELECT * INTO m FROM broadcast_message WHERE warning_id = NEW.warning_id;
    IF m.id IS NULL THEN
        RETURN NULL;  -- not (yet) a broadcast message's: transmit links the warning after queueing its send
    END IF;
    IF NEW.kind = 'send' THEN
        IF NOT omnidesk_is_system() THEN
            RAISE EXCEPTION 'Warning #% carries broadcast message #%, which was transmitted once; it is not sent again',
                NEW.warning_id, m.id USING ERRCODE = '42501';
        END IF;
        RETURN NULL;
    END IF;
    SELECT * INTO r FROM broadcast_update u
    WHERE u.message_id = m.id AND u.status = 'approved' AND u.claimed_at IS NOT NULL
      AND (u.claimed_by = omnidesk_current_staff_id() OR omnidesk_is_system())
      AND omnidesk_broadcast_update_changes(u) = NEW.payload
    FOR UPDATE;
    IF r.id IS NOT NULL THEN
        PERFORM omnidesk_broadcast_apply_update(r, NEW.id);
    ELSE
        RAISE EXCEPTION 'Warning #% carries broadcast message #%: it is updated only by an approved update request, claimed by you, with exactly its changes (omnidesk broadcast update %)',
            NEW.warning_id, m.id, m.id USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END $$;

-- The engine refused the claimed request (the warning ended, the peers' limits ...): it failed with the
-- reason, and the message keeps its content.
CREATE FUNCTION omnidesk_broadcast_update_failed(update_id bigint, reason text, actor_name text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r broadcast_update := omnidesk_broadcast_update_locked(update_id);
    actor staff_user := omnidesk_broadcast_acting_user(actor_name, false);
    now_ timestamptz := omnidesk_now();
BEGIN
    IF r.status <> 'approved' OR r.claimed_by IS DISTINCT FROM actor.id THEN
        RAISE EXCEPTION 'Update request #% is % and not claimed by %; only its sender marks it failed', r.id,
            replace(r.status, '_', ' '), actor.username USING ERRCODE = 'ODA01';
    END IF;
    UPDATE broadcast_update SET status = 'failed', failed_at = now_,
        failure_reason = left(coalesce(nullif(btrim(reason), ''), 'refused by the cell broadcast centre'), 500)
    WHERE id = r.id;
    PERFORM omnidesk_broadcast_event(r.message_id, actor, 'update_failed',
        jsonb_build_object('update', r.id, 'reason', left(coalesce(btrim(reason), ''), 500)));
    PERFORM pg_notify('omnidesk_broadcast', json_build_object(
        'table', 'broadcast_update', 'op', 'UPDATE', 'id', r.message_id, 'update', r.id, 'status', 'failed')::text);
    RETURN jsonb_build_object('ok', true, 'update', r.id, 'status', 'failed');
END $$;

-- What the engine sends comes from cbc_warning (a centre that restarts sends the stored warning again):
-- a staff login may record a broadcast message's warning as stopped, never change what it says.
CREATE FUNCTION omnidesk_broadcast_warning_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    mid bigint;
BEGIN
    IF omnidesk_is_system() THEN
        RETURN NEW;
    END IF;
    SELECT id INTO mid FROM broadcast_message WHERE warning_id = OLD.id;
    IF mid IS NOT NULL AND (NEW.message_identifier, NEW.message_code, NEW.geographical_scope, NEW.update_number,
                            NEW.category, NEW.repetition_period, NEW.number_of_broadcasts, NEW.warning_period,
                            NEW.texts, NEW.targets)
                           IS DISTINCT FROM
                           (OLD.message_identifier, OLD.message_code, OLD.geographical_scope, OLD.update_number,
                            OLD.category, OLD.repetition_period, OLD.number_of_broadcasts, OLD.warning_period,
                            OLD.texts, OLD.targets) THEN
        RAISE EXCEPTION 'Warning #% carries broadcast message #%: what it says changes only by an approved update request',
            OLD.id, mid USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;

-- A message that stops or expires takes its open update request with it: nothing is left to approve.
CREATE FUNCTION omnidesk_broadcast_close_updates() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r broadcast_update;
BEGIN
    IF OLD.status = 'active' AND NEW.status <> 'active' THEN
        FOR r IN SELECT * FROM broadcast_update
                 WHERE message_id = NEW.id AND status IN ('pending_approval', 'approved') FOR UPDATE LOOP
            UPDATE broadcast_update SET status = 'failed', failed_at = omnidesk_now(),
                failure_reason = format('message #%s was %s before the update was sent', NEW.id, NEW.status)
            WHERE id = r.id;
            INSERT INTO broadcast_event (message_id, at, actor_user_id, actor_name, event, detail)
            VALUES (NEW.id, omnidesk_now(), NULL, 'OmniDesk', 'update_failed',
                    jsonb_build_object('update', r.id, 'reason', format('the message was %s first', NEW.status)));
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER broadcast_message_close_updates AFTER UPDATE OF status ON broadcast_message
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_close_updates();
CREATE TRIGGER broadcast_warning_guard BEFORE UPDATE ON cbc_warning
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_warning_guard();
CREATE TRIGGER broadcast_command_guard AFTER INSERT ON cbc_command
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_command_guard();
CREATE TRIGGER broadcast_update_keep BEFORE DELETE ON broadcast_update
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_keep_history();
CREATE TRIGGER broadcast_update_keep_truncate BEFORE TRUNCATE ON broadcast_update
    FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_broadcast_keep_history();
