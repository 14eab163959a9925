-- +goose Up
-- Issue 19: door events. A gate whose door hangs off an access controller reports what
-- the door does on its own (forced open, held open, exit button, a card the controller
-- let in by itself) and a granted opening the controller refused or did not answer, as
-- entry events of method 'door' with result 'alarm' or 'info' (internal/access/events.go
-- lists the reasons). Without this the insert of such an event would fail the batch.
ALTER TABLE entry_events DROP CONSTRAINT entry_events_method_check;
ALTER TABLE entry_events ADD CONSTRAINT entry_events_method_check CHECK (method IN ('qr', 'face', 'manual', 'door'));
ALTER TABLE entry_events DROP CONSTRAINT entry_events_result_check;
ALTER TABLE entry_events ADD CONSTRAINT entry_events_result_check CHECK (result IN ('granted', 'denied', 'alarm', 'info'));

-- +goose Down
DELETE FROM entry_events WHERE method = 'door' OR result IN ('alarm', 'info');
ALTER TABLE entry_events DROP CONSTRAINT entry_events_result_check;
ALTER TABLE entry_events ADD CONSTRAINT entry_events_result_check CHECK (result IN ('granted', 'denied'));
ALTER TABLE entry_events DROP CONSTRAINT entry_events_method_check;
ALTER TABLE entry_events ADD CONSTRAINT entry_events_method_check CHECK (method IN ('qr', 'face', 'manual'));
