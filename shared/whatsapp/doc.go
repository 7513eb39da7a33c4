// Package whatsapp knows the shape of what Meta's WhatsApp Cloud API sends to
// a webhook: it checks the X-Hub-Signature-256 header over the raw body and
// splits a payload into units, one per message, status, value-level error or
// other change, each small enough to travel alone through a queue and keyed
// so that units about the same contact stay in order.
//
// It imports only the standard library and strictjson.
package whatsapp
