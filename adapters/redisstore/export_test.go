package redisstore

import "github.com/eventfold/eventfold/readmodel"

// MetaKey returns the key of ns's state hash, for tests that read a node
// directly.
func (s *Store) MetaKey(ns readmodel.Namespace) string { return metaKey(s.base(ns)) }

// DocKey returns the key of document id of ns.
func (s *Store) DocKey(ns readmodel.Namespace, id string) string { return docKey(s.base(ns), id) }
