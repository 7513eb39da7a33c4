// Command sender is the Sender Lambda function; all behaviour lives in
// package sender under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/lambdamain"
	"github.com/tucanlink/wacloud/shared/sender"
)

func main() {
	lambdamain.Start("sender", sender.Setup, func(h *sender.Handler) any { return h.Handle })
}
