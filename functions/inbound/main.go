// Command inbound is the Inbound Lambda function; all behaviour lives in
// package inbound under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/inbound"
	"github.com/tucanlink/wacloud/shared/lambdamain"
)

func main() {
	lambdamain.Start("inbound", inbound.Setup, func(h *inbound.Handler) any { return h.Handle })
}
