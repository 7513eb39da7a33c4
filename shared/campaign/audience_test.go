package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/fault"
)

// endless is a reader of a CSV header, one row, and then a quoted field
// that never ends: a file that would fill any memory it is read into.
type endless struct {
	head string
	read int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(e.head) > 0 {
		c := copy(p[n:], e.head)
		e.head = e.head[c:]
		n += c
	}
	for ; n < len(p); n++ {
		p[n] = 'x'
	}
	e.read += int64(n)
	return n, nil
}

// TestRowsRefuseAnOverlongCSVRow: a CSV row longer than MaxLine ends the
// read with ErrRowTooLong (not retryable: reading again would meet the
// same row) after reading little more than MaxLine, instead of holding
// the row in memory; rows up to MaxLine read as usual.
func TestRowsRefuseAnOverlongCSVRow(t *testing.T) {
	long := strings.Repeat("y", campaign.MaxLine-100)
	tests := []struct {
		name    string
		body    io.Reader
		rows    int
		wantErr error
	}{
		{"rows up to MaxLine", strings.NewReader("to,body.1\n+5511999990001,a\n+5511999990002,\"" + long + "\"\n+5511999990003,c\n"), 3, io.EOF},
		{"a quoted field that never ends", &endless{head: "to,body.1\n+5511999990001,a\n+5511999990002,\""}, 1, campaign.ErrRowTooLong},
		{"a line that never ends", &endless{head: "to,body.1\n+5511999990001,a\n+5511999990002,"}, 1, campaign.ErrRowTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := campaign.NewRows(tt.body, campaign.FormatCSV, nil, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				row, err := rs.Next()
				if err != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("after %d rows: %v, want %v", n, err, tt.wantErr)
					}
					if tt.wantErr != io.EOF && fault.ClassOf(err) == fault.Retry {
						t.Errorf("%v is retryable", err)
					}
					break
				}
				if row.Problem != "" {
					t.Errorf("row %d: %s", row.N, row.Problem)
				}
				n++
			}
			if n != tt.rows {
				t.Errorf("%d rows, want %d", n, tt.rows)
			}
			if e, ok := tt.body.(*endless); ok && e.read > 2*campaign.MaxLine {
				t.Errorf("read %d bytes for a row cut at %d", e.read, campaign.MaxLine)
			}
		})
	}
}

func ExampleErrRowTooLong() {
	fmt.Println(campaign.ErrRowTooLong)
	// Output: a row is over 65536 bytes
}

// TestRunnerFailsOnAMalformedCSV: a CSV the reader cannot pick up again
// (a bare quote, a row over MaxLine), an empty file or a header without
// a to column fails the campaign with the reason (and the row), after
// queueing the rows before it; it is neither handed over to a next run
// nor retried, which would meet the same row for ever.
func TestRunnerFailsOnAMalformedCSV(t *testing.T) {
	const head, first, last = "to,body.1,body.2,header.document\n", "+5511999990001,Ana,1,https://example.com/o.pdf\n", "+5511999990003,Bia,3,https://example.com/o.pdf\n"
	tests := []struct {
		name, body string
		reason     []string
		queued     int64
	}{
		{"bare quote", head + first + `+5511999990002,Ana "the" Maria,2,https://example.com/o.pdf` + "\n" + last,
			[]string{"row 2", `bare " in non-quoted-field`}, 1},
		{"row over MaxLine", head + first + `+5511999990002,"` + strings.Repeat("z", campaign.MaxLine+8<<10) + `",2,https://example.com/o.pdf` + "\n" + last,
			[]string{"row 2", "is over 65536 bytes"}, 1},
		{"empty file", "", []string{"empty"}, 0},
		{"no to column", "body.1,body.2\nAna,1\n", []string{`no "to" column`}, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			w := &wakes{next: e.r.Wake}
			e.r.Wake = w
			c := e.campaign(t, fmt.Sprintf("tenants/demo/campaigns/malformed-%d.csv", i), tt.body)
			if err := e.r.Run(context.Background(), campaign.Command{TenantID: "demo", CampaignID: c.ID}); err != nil {
				t.Fatalf("run: %v (a retry would meet the same file)", err)
			}
			got, err := e.store.Get(context.Background(), "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != campaign.StateFailed {
				t.Errorf("campaign %s (%q), want failed", got.State, got.Reason)
			}
			for _, r := range tt.reason {
				if !strings.Contains(got.Reason, r) {
					t.Errorf("reason %q does not say %q", got.Reason, r)
				}
			}
			if n := int64(len(e.jobs(t))); got.Counts.Queued != tt.queued || n != tt.queued {
				t.Errorf("%d queued, %d jobs; want %d", got.Counts.Queued, n, tt.queued)
			}
			if len(w.delays) != 0 {
				t.Errorf("handed over to next runs %v", w.delays)
			}
		})
	}
}
