package tenant

// Cached returns how many found and missing keys r holds.
func Cached(r *Registry) (found, missing int) { return r.cached() }

// KeyName is keyName.
var KeyName = keyName
