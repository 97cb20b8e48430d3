-- A public warning reaches the cell broadcast centre from a staff login only as an approved broadcast
-- message (migration 0016). Frozen once landed, like broadcast_0009.sql and broadcast_update_0013.sql, whose
-- helpers it reuses.
--
-- Until now a staff login holding create_cbc_message could, from psql, INSERT a cbc_warning and a
-- cbc_command(kind 'send'): the running centre sent it to every phone with no code and no approval. Now,
-- for every login but the system role (the centre, the owner's `omnidesk cbc ...` console):
--
--   * a cbc_warning a staff login inserts, and every 'send' command a staff login queues, is checked when the
--     transaction commits (deferred constraint triggers): by then exactly one broadcast message must be
--     linked to that warning, ACTIVE, approved (approved_by set by the TOTP functions of 0009) and claimed
--     for transmission, and the warning must say exactly what the message was approved to say: identifier,
--     category, repetition period, number of broadcasts, warning period, texts (language and text, in order,
--     no per-text identifier of its own), targets; update number 0 and the PLMN-wide scope transmit uses.
--     The warning is still queued and has exactly one send command. 0009's guard lets a message become
--     active linked to a warning only once, from approved, so the insert and the activation are one
--     transaction (broadcast.service.transmit);
--   * checked at commit rather than built by a SECURITY DEFINER transmit function because the warning's
--     encoding and validity (GSM 7-bit / UCS-2 pages, the peers' cell identities, the free message code under
--     its advisory lock) are the engine's Python rules (cbc.store); the database checks the outcome against
--     the approved row instead of repeating them;
--   * a staff 'update' or 'stop' command is for a broadcast message's warning only (updates as 0013 says, by
--     the claimed approved request; stops for holders of delete_cbc_message); console warnings are the
--     console's;
--   * a staff login may no longer rewrite a queued command (only withdraw it: done_at and error), nor move a
--     warning to any state but 'stopped' or change its sent_at / creator (a restarted centre adopts every
--     sent, unstopped warning for the rest of its warning period).
--
-- Error codes as in broadcast_0009.sql.

-- Whether warning wid, inserted or sent by a staff login, is the transmission of an approved message.
CREATE FUNCTION omnidesk_broadcast_send_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    wid bigint := (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;  -- 'id' of a warning, 'warning_id' of a command
    w cbc_warning;
    m broadcast_message;
    linked integer;
    sends integer;
BEGIN
    IF omnidesk_is_system() THEN
        RETURN NULL;
    END IF;
    SELECT * INTO w FROM cbc_warning WHERE id = wid;
    IF w.id IS NULL THEN
        RETURN NULL;  -- gone (a cascade of the owner's); nothing to send
    END IF;
    SELECT count(*) INTO linked FROM broadcast_message WHERE warning_id = wid;
    SELECT * INTO m FROM broadcast_message WHERE warning_id = wid;
    IF linked <> 1 OR m.status <> 'active' OR m.approved_by IS NULL OR m.approved_at IS NULL
       OR m.transmit_claimed_at IS NULL THEN
        RAISE EXCEPTION 'Warning #% is not the transmission of an approved broadcast message: a public warning goes out from OmniDesk only as a message confirmed with authenticator codes (omnidesk broadcast transmit)',
            wid USING ERRCODE = '42501';
    END IF;
    SELECT count(*) INTO sends FROM cbc_command WHERE warning_id = wid AND kind = 'send';
    IF w.state <> 'queued' OR sends <> 1 THEN
        RAISE EXCEPTION 'Warning #% of broadcast message #% is handed to the centre once, queued, with one send command',
            wid, m.id USING ERRCODE = '42501';
    END IF;
    IF (w.message_identifier, w.category, w.repetition_period, w.number_of_broadcasts, w.update_number,
        w.geographical_scope)
       IS DISTINCT FROM
       (m.message_identifier, m.category, m.repetition_period, m.number_of_broadcasts, 0, 1)
       OR w.warning_period IS DISTINCT FROM m.warning_period
       OR w.targets IS DISTINCT FROM m.target_cells
       OR (SELECT jsonb_agg(jsonb_build_object('language', t->'language', 'text', t->'text') ORDER BY n)
           FROM jsonb_array_elements(w.texts) WITH ORDINALITY x(t, n))
          IS DISTINCT FROM
          (SELECT jsonb_agg(jsonb_build_object('language', t->'language', 'text', t->'text') ORDER BY n)
           FROM jsonb_array_elements(m.texts) WITH ORDINALITY x(t, n))
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(w.texts) t
                  WHERE coalesce(jsonb_typeof(t->'message_identifier'), 'null') <> 'null'
                    AND (t->'message_identifier') IS DISTINCT FROM to_jsonb(m.message_identifier)) THEN
        RAISE EXCEPTION 'Warning #% does not say what broadcast message #% was approved to say (identifier, category, repetitions, periods, texts and targets must be its approved content)',
            wid, m.id USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END $$;

-- 0013's guard, with staff 'update' and 'stop' commands kept to broadcast messages' warnings.
CREATE OR REPLACE FUNCTION omnidesk_broadcast_command_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m broadcast_message;
    r broadcast_update;
BEGIN
    SELECT * INTO m FROM broadcast_message WHERE warning_id = NEW.warning_id;
    IF NEW.kind = 'stop' THEN
        IF NOT omnidesk_is_system() AND (m.id IS NULL OR NOT omnidesk_has('delete_cbc_message')) THEN
            RAISE EXCEPTION 'Warning #% is not a broadcast message you may stop: a staff login stops a broadcast message (needs delete_cbc_message); other warnings are stopped from the centre''s console (omnidesk cbc stop)',
                NEW.warning_id USING ERRCODE = '42501';
        END IF;
        RETURN NULL;
    END IF;
    IF m.id IS NULL THEN
        IF NEW.kind = 'update' AND NOT omnidesk_is_system() THEN
            RAISE EXCEPTION 'Warning #% is not a broadcast message''s: a staff login updates a broadcast message by an approved update request; other warnings are updated from the centre''s console (omnidesk cbc update)',
                NEW.warning_id USING ERRCODE = '42501';
        END IF;
        RETURN NULL;  -- a staff send is checked at commit (omnidesk_broadcast_send_check)
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

-- A staff login withdraws a queued command (done_at, error); it never rewrites or reopens one.
CREATE FUNCTION omnidesk_broadcast_command_change_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF omnidesk_is_system() THEN
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.warning_id, NEW.kind, NEW.payload, NEW.requested_by, NEW.requested_at, NEW.claimed_at)
       IS DISTINCT FROM
       (OLD.id, OLD.warning_id, OLD.kind, OLD.payload, OLD.requested_by, OLD.requested_at, OLD.claimed_at)
       OR (OLD.done_at IS NOT NULL AND (NEW.done_at, NEW.error) IS DISTINCT FROM (OLD.done_at, OLD.error))
       OR (NEW.done_at IS NULL AND NEW.error IS DISTINCT FROM OLD.error) THEN
        RAISE EXCEPTION 'Command #% for the cell broadcast centre can only be withdrawn by a staff login, not changed',
            OLD.id USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;

-- A restarted centre adopts every sent warning that is not stopped, for what is left of its warning period
-- since sent_at: a staff login records a warning as stopped (state, reason, finished_at), never moves it to
-- another state nor changes when it was sent or by whom (what it says is 0014's guard).
CREATE FUNCTION omnidesk_broadcast_warning_state_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF omnidesk_is_system() THEN
        RETURN NEW;
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT (NEW.state = 'stopped' AND OLD.state NOT IN ('stopped', 'expired')) THEN
        RAISE EXCEPTION 'Warning #% is %: a staff login can only record it as stopped; the cell broadcast centre sets its other states',
            OLD.id, OLD.state USING ERRCODE = '42501';
    END IF;
    IF (NEW.id, NEW.created_by, NEW.created_at, NEW.sent_at) IS DISTINCT FROM (OLD.id, OLD.created_by, OLD.created_at, OLD.sent_at) THEN
        RAISE EXCEPTION 'Warning #%: who created it and when it was created and sent are the cell broadcast centre''s record',
            OLD.id USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;

CREATE CONSTRAINT TRIGGER broadcast_send_check_warning AFTER INSERT ON cbc_warning
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_send_check('id');
CREATE CONSTRAINT TRIGGER broadcast_send_check_command AFTER INSERT ON cbc_command
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.kind = 'send')
    EXECUTE FUNCTION omnidesk_broadcast_send_check('warning_id');
CREATE TRIGGER broadcast_command_change_guard BEFORE UPDATE ON cbc_command
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_command_change_guard();
CREATE TRIGGER broadcast_warning_state_guard BEFORE UPDATE ON cbc_warning
    FOR EACH ROW EXECUTE FUNCTION omnidesk_broadcast_warning_state_guard();
