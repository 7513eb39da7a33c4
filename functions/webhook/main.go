// Command webhook is the Webhook Lambda function; all behaviour lives in
// package webhook under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/lambdamain"
	"github.com/tucanlink/wacloud/shared/webhook"
)

func main() {
	lambdamain.Start("webhook", webhook.Setup, func(h *webhook.Handler) any { return h.Handle })
}
