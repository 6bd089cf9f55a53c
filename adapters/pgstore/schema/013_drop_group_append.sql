-- Appends are not grouped (docs/design.md §3, "No group commit"): the
-- group append function goes, in both signatures an upgraded schema may
-- hold.
DROP FUNCTION IF EXISTS {{schema}}.append_events_group(boolean, text[], bigint[], int[], int[], int[], uuid[], text[], text[], bytea[], jsonb[]);
DROP FUNCTION IF EXISTS {{schema}}.append_events_group(boolean, text[], bigint[], int[], int[], int[], uuid[], text[], text[], bytea[], jsonb[], text[]);
