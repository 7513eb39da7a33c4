// Package queue moves work between the connector's functions through SQS:
// Publisher writes batches (keeping FIFO order and deduplication ids), and
// Consumer runs an SQS-triggered handler over a batch, turning each record's
// error class into the right outcome: retried with growing delay, or moved
// to the dead-letter queue with its reason.
package queue
