package campaign

// Record is the campaign's record as the runner's Records returns it, so
// tests outside the package can wrap a Records.
type Record = record
