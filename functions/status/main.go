// Command status is the Status Lambda function; all behaviour lives in
// package status under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/lambdamain"
	"github.com/tucanlink/wacloud/shared/status"
)

func main() {
	lambdamain.Start("status", status.Setup, func(h *status.Handler) any { return h.Handle })
}
