-- +goose Up
-- The foreign keys of 00017's tables, in their own migration so that Citus has
-- distributed the tables first (docs/scaling.md). Deleting an endpoint deletes its
-- outbox rows and log; a deleted gate's liveness goes with it.
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint
    FOREIGN KEY (community_id, endpoint_id) REFERENCES webhook_endpoints (community_id, id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_endpoint
    FOREIGN KEY (community_id, endpoint_id) REFERENCES webhook_endpoints (community_id, id) ON DELETE CASCADE;
ALTER TABLE gate_liveness ADD CONSTRAINT gate_liveness_gate
    FOREIGN KEY (community_id, gate_id) REFERENCES gates (community_id, id) ON DELETE CASCADE;

-- +goose Down
ALTER TABLE gate_liveness DROP CONSTRAINT gate_liveness_gate;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_endpoint;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint;
