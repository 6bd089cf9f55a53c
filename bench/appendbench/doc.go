// Package appendbench holds benchmark scenarios 1 and 2: appending 1 or 10
// events per command from 1 and 16 concurrent writers, each writer on its
// own stream, with synchronous commit on.
//
// eventfold (pgstore's Append with an exact expected version) is held
// against two baselines measured in the same run and database:
//
//   - the raw limit: one single-statement pgx INSERT of the same rows, with
//     the stream version kept by the writer, into a plain table with a
//     global-position primary key and a unique (stream, version) key (the
//     table of the machine's performance baseline);
//   - the peer: watermill-sql's Publish of the same payload and metadata to
//     one topic, one INSERT per Publish call.
//
// Every measurement starts from empty tables.
package appendbench
