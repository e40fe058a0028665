-- Where the feed stood when a restore was noticed (a desk's proof, or the
-- operator's `restored`). Items numbered after it were written since the
-- restore. Should the feed's consumer then read on from a cursor beyond
-- anything the restored feed has numbered, those items would sit below its
-- cursor: they are numbered again after it (api::feed::move_past_cursor).
ALTER TABLE registry_meta ADD COLUMN feed_restored_after bigint;
