// Package initcheck holds tests of what the functions' bootstraps do
// before their first event: package-level work runs in every cold start
// (make bench-cold), so it must stay cheap. It has no code of its own.
package initcheck
