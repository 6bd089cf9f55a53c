// Package redisstore keeps eventfold read models in Redis: it implements
// readmodel.Store with go-redis, so that projections write documents and
// indexes to Redis and queries are served from Redis alone.
//
// [New] accepts a redis.UniversalClient: a single node, a Sentinel-managed
// failover client, a Redis Cluster client or a Ring. It never closes the
// client. It uses Lua scripting (EVALSHA, with the cmsgpack library Redis
// bundles) and UNLINK, and is tested with Redis 7.0.
//
// # Keys and hash tags
//
// Every key of one readmodel.Namespace starts with
//
//	<prefix>{<projection>:<version>:<tenant>}:
//
// where each field is percent-encoded (every byte outside [0-9A-Za-z_.-],
// '%' included), so no user-supplied value can produce a ':', '{', '}' or
// glob character of its own: namespaces and document IDs can hold any
// bytes and still never collide or escape their namespace. The braces are
// the Redis Cluster hash tag: all keys of a namespace (its state hash, one
// hash per document, one sorted set per index) hash to one slot. That is
// deliberate. It is what lets one Lua script apply a whole batch, its index
// updates and the projection's checkpoint atomically, and lets a query read
// an index and its documents in one consistent step. A namespace's memory
// and traffic therefore land on one shard.
//
// A read model that outgrows a shard is spread over partitions
// (readmodel.Partitioned, projection.Config.Spread): each partition is a
// namespace of its own, whose Partition field adds a fourth part to the
// hash tag. For partition "k/n" (readmodel.Namespace.WithPartition) the
// store appends a small salt that puts the tag's slot in the k-th of n
// equal ranges of the 16384 slots, so n partitions, n a multiple of the
// masters, land evenly on masters that hold equal runs of slots (what
// redis-cli --cluster create assigns).
//
// # Failover
//
// With a *redis.ClusterClient, a call that fails without an answer from
// Redis (a master died) makes the client read the slot map again, so the
// next call reaches the replica that took over instead of waiting for
// go-redis's periodic reload (ClusterStateReloadInterval, 60 s by
// default). Replication is asynchronous: a failover may lose writes the old
// master acknowledged. A projection over a spread read model notices that
// at its next commit and redoes them (see projection.Config.Spread).
//
// # Writes
//
// [Store.Apply] runs one Lua script per batch (EVALSHA, loaded on first
// use): for each write it compares revisions (the version guard), removes
// the document's previous index entries, which the document hash
// remembers, and writes the document and its new entries; then it marks
// the namespace initialized and stores the checkpoint. A batch is one round
// trip however many writes it holds. Deletes keep a tombstone hash holding
// only the revision, until the namespace is dropped.
//
// Documents are stored as the bytes in readmodel.Write.Data; choosing their
// encoding (JSON by default) is the job of readmodel.Model and its Codec.
//
// # Reads
//
// Get is one HMGET, GetMany one MULTI/EXEC of HMGETs (one round trip, one
// consistent state), State one HMGET, and Query one Lua script, which only reads,
// that walks a sorted set with ZRANGEBYLEX and fetches the documents it
// names. Nothing on the read path touches the event store.
//
// # Dropping and data loss
//
// [Store.Drop] removes the namespace's state hash first, then every other
// key found with SCAN (on each master of a cluster), using UNLINK. If Redis
// loses the data (restart without persistence, FLUSHALL, failover to an
// empty replica), the state hash goes with it and readmodel.Reader.State
// reports the namespace uninitialized, which tells the projection to
// rebuild. Run Redis with maxmemory-policy noeviction: an eviction policy
// could drop single documents or index sets silently.
package redisstore
