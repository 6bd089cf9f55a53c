// Package querybench holds benchmark scenario 8, query latency from the
// read model. Only its baseline exists so far: a raw Redis GET of one key
// holding a read-model-sized document. eventfold's side waits for the read
// model.
package querybench
