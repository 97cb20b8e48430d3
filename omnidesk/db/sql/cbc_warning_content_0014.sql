-- What a warning says is what the peers broadcast (migration 0014). Frozen once landed.
--
-- cbc_warning holds each live warning's content: the running centre writes an update's texts, parameters
-- and update number there when its engine accepts the update (cbc.store.record_update), and a centre that
-- restarts sends exactly that to every peer that reconnects or restarts. 0013 kept staff from rewriting
-- the warning of a broadcast message; a staff login could still rewrite any other warning (one sent from
-- the engine's console), and a restarted centre would then broadcast text nobody sent, with no command and
-- no record. Now no staff login changes what any warning says: only the system role (the centre, the
-- owner's console) does. Staff still record a warning as stopped (state, reason, finished_at).

CREATE OR REPLACE FUNCTION omnidesk_broadcast_warning_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    mid bigint;
BEGIN
    IF omnidesk_is_system() THEN
        RETURN NEW;
    END IF;
    IF (NEW.message_identifier, NEW.message_code, NEW.geographical_scope, NEW.update_number, NEW.category,
        NEW.repetition_period, NEW.number_of_broadcasts, NEW.warning_period, NEW.texts, NEW.targets)
       IS DISTINCT FROM
       (OLD.message_identifier, OLD.message_code, OLD.geographical_scope, OLD.update_number, OLD.category,
        OLD.repetition_period, OLD.number_of_broadcasts, OLD.warning_period, OLD.texts, OLD.targets) THEN
        SELECT id INTO mid FROM broadcast_message WHERE warning_id = OLD.id;
        IF mid IS NOT NULL THEN
            RAISE EXCEPTION 'Warning #% carries broadcast message #%: what it says changes only by an approved update request',
                OLD.id, mid USING ERRCODE = '42501';
        END IF;
        RAISE EXCEPTION 'Warning #%: what it says changes only by an update the cell broadcast centre accepts (omnidesk cbc update)',
            OLD.id USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;
