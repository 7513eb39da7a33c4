// Package campaign is a campaign: one approved template sent to every
// recipient of an audience file in the tenant's S3 prefix, each row with
// its own parameters. It holds the campaign's record (Store, the
// campaigns table), its control messages (Control, the campaign queue)
// and the runner (Runner) that streams the audience into outbound jobs.
//
// # Never twice
//
// Row n of campaign c becomes the outbound job "c-n" (JobID): the
// sender's job record sends a job id once, so a restart, a repeated
// control message or two runners at once cannot send a row twice. A
// recipient is claimed by the first row that names it (a record per
// campaign and recipient), so a recipient listed twice is sent once and
// counted as a duplicate, whichever run reads the second row.
//
// # Resumable
//
// The runner reads the audience from a checkpoint (row and byte offset)
// and commits the next checkpoint, with the counts of the rows between
// the two and the invalid-rows report part of those rows, in one
// conditional write under its lease. Rows after the last commit are read
// again by the next run; their jobs and recipient claims are idempotent,
// and their counts were never committed, so counts are exact.
//
// # Pipelined
//
// A run checks a window of rows at once (Runner.Window): each row's job,
// its recipient's claim, the suppression list and the messaging limit
// run concurrently with its neighbours', and the rows are then taken
// strictly in order: paced, queued, counted and checkpointed, so a
// checkpoint always covers a prefix of done rows. A row whose recipient
// an earlier row of the window names claims it only after that row, and
// capacity is reserved in row order, so the window decides every row as
// one row after the other would: the first row naming a recipient is
// sent, and the limit stops at exactly the first row past the tier. Rows
// checked past the row where a run stops are checked again by the next
// run (a claim for the same row and a recipient already counted are
// both free to repeat).
package campaign
