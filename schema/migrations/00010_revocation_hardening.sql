-- +goose Up
-- Issue 11, server side.
-- A gate's heartbeat says whether its clock is past its alarm limit; staff see it in the
-- gate list beside clock_offset_ms. NULL until the gate's first heartbeat says.
ALTER TABLE gates ADD COLUMN clock_alarm boolean;

-- +goose Down
ALTER TABLE gates DROP COLUMN clock_alarm;
