// Command media is the Media Lambda function; all behaviour lives in
// package media under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/lambdamain"
	"github.com/tucanlink/wacloud/shared/media"
)

func main() {
	lambdamain.Start("media", media.Setup, func(h *media.Handler) any { return h.Handle })
}
