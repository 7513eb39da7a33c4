package delivery_test

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkApply measures one message's life (accepted, then sent,
// delivered, read, and a duplicate read) against the embedded emulator:
// a figure for the store's round trips, not for DynamoDB itself.
func BenchmarkApply(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		wamid := fmt.Sprintf("wamid.bench%d", i)
		if err := s.RecordAccepted(ctx, accepted(wamid)); err != nil {
			b.Fatal(err)
		}
		for j, st := range []string{"sent", "delivered", "read", "read"} {
			if _, err := s.Apply(ctx, status(wamid, st, j)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
