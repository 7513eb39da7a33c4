// Command bridge is the Bridge Lambda function; all behaviour lives in
// package bridge under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/lambdamain"
)

func main() {
	lambdamain.Start("bridge", bridge.Setup, func(h *bridge.Handler) any { return h.Handle })
}
