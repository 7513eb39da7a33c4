package tracing

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestHeaders(t *testing.T) {
	const h = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	tests := []struct {
		name string
		ctx  context.Context
		want string // trace id
	}{
		{"none", context.Background(), ""},
		{"the Lambda runtime's", context.WithValue(context.Background(), lambdaKey, h), "1-5759e988-bd862e3fe1be46a994272793"},
		{"a record's wins over the invocation's", ForRecord(context.WithValue(context.Background(), lambdaKey, "Root=1-00000000-000000000000000000000000"),
			events.SQSMessage{Attributes: map[string]string{AttributeName: h}}), "1-5759e988-bd862e3fe1be46a994272793"},
		{"a record without one keeps the invocation's", ForRecord(context.WithValue(context.Background(), lambdaKey, h), events.SQSMessage{}),
			"1-5759e988-bd862e3fe1be46a994272793"},
		{"Root not first", WithHeader(context.Background(), "Sampled=0;Root=1-1-2"), "1-1-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TraceID(tt.ctx); got != tt.want {
				t.Errorf("TraceID = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewHeader(t *testing.T) {
	h := NewHeader(time.Unix(0x5759e988, 0))
	if !regexp.MustCompile(`^Root=1-5759e988-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$`).MatchString(h) {
		t.Errorf("header %q is not in X-Ray's format", h)
	}
	if NewHeader(time.Now()) == NewHeader(time.Now()) {
		t.Errorf("two new headers are equal")
	}
}
