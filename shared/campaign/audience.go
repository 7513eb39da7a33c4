package campaign

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Row is one data row of an audience file: its number (1 is the first
// row after a CSV header), the columns by name, and End, the byte offset
// right after it (where the next row starts).
type Row struct {
	N       int64
	Columns map[string]string
	End     int64
	// Problem is why the row could not be read (a malformed CSV or JSON
	// line); the row counts as invalid.
	Problem string
}

// MaxLine is the longest audience row read. A longer JSON Lines row is an
// invalid row (the next line starts a row again); a CSV cannot be picked
// up again inside a quoted field, so a CSV row over MaxLine (plus the
// reader's 4 KiB of lookahead) ends the campaign as a malformed file does,
// before it is held in memory.
const MaxLine = 64 << 10

// csvLookahead is how far encoding/csv reads past the record it returns.
const csvLookahead = 4 << 10

// ErrRowTooLong is a CSV row over MaxLine.
var ErrRowTooLong = fmt.Errorf("a row is over %d bytes", MaxLine)

// rowLimit passes a CSV stream through until the record being read is
// longer than MaxLine: delivered counts the bytes handed on, start is
// where the record being read began.
type rowLimit struct {
	r                io.Reader
	delivered, start int64
}

func (l *rowLimit) Read(p []byte) (int, error) {
	if l.delivered-l.start > MaxLine+csvLookahead {
		return 0, ErrRowTooLong
	}
	n, err := l.r.Read(p)
	l.delivered += int64(n)
	return n, err
}

// Rows streams an audience file from a checkpoint: r starts at byte
// offset (the start of row next), header is the CSV header (nil to read
// it from r, which then starts at offset 0). Memory is one row.
type Rows struct {
	format string
	header []string
	next   int64
	base   int64

	csv   *csv.Reader
	limit *rowLimit
	br    *bufio.Reader
	off   int64 // JSON Lines: bytes consumed
}

// NewRows reads rows of format from r, positioned at offset, whose first
// row is row next (1-based).
func NewRows(r io.Reader, format string, header []string, offset, next int64) (*Rows, error) {
	rs := &Rows{format: format, header: header, next: next, base: offset}
	switch format {
	case FormatCSV:
		rs.limit = &rowLimit{r: r}
		rs.csv = csv.NewReader(rs.limit)
		rs.csv.FieldsPerRecord = -1
		rs.csv.ReuseRecord = true
		if header == nil {
			// The file's faults are invalid (reading it again meets them
			// again); a stream that broke is retryable.
			h, err := rs.csv.Read()
			var pe *csv.ParseError
			switch {
			case errors.Is(err, io.EOF):
				return nil, fault.Invalidf("the audience file is empty: it needs a header row naming the to column")
			case errors.As(err, &pe), errors.Is(err, ErrRowTooLong):
				return nil, fault.InvalidErr(fmt.Errorf("the audience's header row is not CSV: %w", err))
			case err != nil:
				return nil, fault.Retryable(fmt.Errorf("read the audience's header row: %w", err))
			}
			h = append([]string(nil), h...)
			if len(h) > 0 {
				h[0] = strings.TrimPrefix(h[0], "\ufeff")
			}
			if err := checkHeader(h); err != nil {
				return nil, fault.InvalidErr(err)
			}
			rs.header = h
			rs.limit.start = rs.csv.InputOffset()
		}
	case FormatJSONL:
		rs.br = bufio.NewReaderSize(r, 64<<10)
	default:
		return nil, fault.Invalidf("audience format %q", format)
	}
	return rs, nil
}

func checkHeader(h []string) error {
	seen := map[string]bool{}
	hasTo := false
	for _, c := range h {
		c = strings.TrimSpace(c)
		if seen[c] {
			return fmt.Errorf("the audience's header names column %q twice", c)
		}
		seen[c] = true
		if c == ColumnTo {
			hasTo = true
		} else if _, _, ok := parseColumn(c); !ok {
			return fmt.Errorf("the audience's header column %q is neither %q nor a template parameter (header.1, body.1, body.name, button.0, header.image …)", c, ColumnTo)
		}
	}
	if !hasTo {
		return fmt.Errorf("the audience's header row has no %q column", ColumnTo)
	}
	return nil
}

// Header is the CSV header (nil for JSON Lines), to keep with the
// checkpoint.
func (rs *Rows) Header() []string { return rs.header }

// Next returns the next row, or io.EOF after the last. A row that cannot
// be read is returned with Problem set; an error is the file's (a read
// failure, or a CSV the reader cannot resynchronise).
func (rs *Rows) Next() (Row, error) {
	switch rs.format {
	case FormatCSV:
		return rs.nextCSV()
	default:
		return rs.nextJSONL()
	}
}

func (rs *Rows) nextCSV() (Row, error) {
	for {
		rec, err := rs.csv.Read()
		rs.limit.start = rs.csv.InputOffset()
		end := rs.base + rs.csv.InputOffset()
		if errors.Is(err, io.EOF) {
			return Row{}, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) || errors.Is(err, ErrRowTooLong) {
			// The file's own fault: reading it again meets it again.
			return Row{}, fault.InvalidErr(fmt.Errorf("read audience row %d: %w", rs.next, err))
		}
		if err != nil {
			// The stream broke (a reset connection, a client timeout):
			// the file is fine, a new read from the checkpoint goes on.
			return Row{}, fault.Retryable(fmt.Errorf("read audience row %d: %w", rs.next, err))
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line is no row
		}
		row := Row{N: rs.next, End: end, Columns: make(map[string]string, len(rec))}
		rs.next++
		if len(rec) != len(rs.header) {
			row.Problem = fmt.Sprintf("the row has %d columns, the header %d", len(rec), len(rs.header))
			return row, nil
		}
		for i, v := range rec {
			row.Columns[strings.TrimSpace(rs.header[i])] = v
		}
		return row, nil
	}
}

func (rs *Rows) nextJSONL() (Row, error) {
	for {
		line, err := rs.br.ReadSlice('\n')
		tooLong := errors.Is(err, bufio.ErrBufferFull)
		if tooLong {
			n := int64(len(line))
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = rs.br.ReadSlice('\n')
				n += int64(len(line))
			}
			rs.off += n
		} else {
			rs.off += int64(len(line))
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Row{}, fault.Retryable(fmt.Errorf("read audience row %d: %w", rs.next, err))
		}
		if len(bytes.TrimSpace(line)) == 0 && !tooLong {
			if err != nil {
				return Row{}, io.EOF
			}
			continue
		}
		row := Row{N: rs.next, End: rs.base + rs.off}
		rs.next++
		if tooLong {
			row.Problem = fmt.Sprintf("the line is over %d bytes", MaxLine)
			return row, nil
		}
		var obj map[string]any
		if jerr := json.Unmarshal(line, &obj); jerr != nil {
			row.Problem = "the line is not a JSON object"
			return row, nil
		}
		row.Columns = make(map[string]string, len(obj))
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				row.Columns[k] = v
			case float64, bool:
				b, _ := json.Marshal(v)
				row.Columns[k] = string(b)
			default:
				row.Problem = fmt.Sprintf("%q must be a string", k)
			}
		}
		return row, nil
	}
}
