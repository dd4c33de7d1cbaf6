package persistence

// keyed maps the d/ keys of one parent (their part after the parent) to a value. Most parents
// have one d/ key (a list of the children of one insert), so the first key is held inline and a
// map is made only for a second one: the writer keeps one keyed per parent with open
// dependencies (openkids.go) and per parent written in the open transaction (pendingDeps), and a
// map per parent was most of what keeping them cost.
type keyed[V any] struct {
	key  string // the one key held inline, when more is nil ("" for none: a d/ key is never empty)
	one  V
	more map[string]V // every key, once there were two at once
}

// get returns the value of key.
func (k *keyed[V]) get(key string) (V, bool) {
	if k.more != nil {
		v, ok := k.more[key]
		return v, ok
	}
	if k.key != "" && k.key == key {
		return k.one, true
	}
	var zero V
	return zero, false
}

// set sets the value of key.
func (k *keyed[V]) set(key string, v V) {
	switch {
	case k.more != nil:
		k.more[key] = v
	case k.key == "" || k.key == key:
		k.key, k.one = key, v
	default:
		k.more = map[string]V{k.key: k.one, key: v}
		var zero V
		k.key, k.one = "", zero
	}
}

// del removes key and reports whether it was there.
func (k *keyed[V]) del(key string) bool {
	if k.more != nil {
		_, ok := k.more[key]
		delete(k.more, key)
		return ok
	}
	if k.key == "" || k.key != key {
		return false
	}
	var zero V
	k.key, k.one = "", zero
	return true
}

// len returns the number of keys.
func (k *keyed[V]) len() int {
	if k.more != nil {
		return len(k.more)
	}
	if k.key != "" {
		return 1
	}
	return 0
}

// each calls fn for every key and its value, in no order.
func (k *keyed[V]) each(fn func(key string, v V)) {
	if k.more != nil {
		for key, v := range k.more {
			fn(key, v)
		}
		return
	}
	if k.key != "" {
		fn(k.key, k.one)
	}
}

// asMap returns the keys and values as a map (for tests and the rare slow path).
func (k *keyed[V]) asMap() map[string]V {
	out := make(map[string]V, k.len())
	k.each(func(key string, v V) { out[key] = v })
	return out
}
