package client

// batchIDs reads the ids out of a batch enqueue's answer as the daemon writes it,
// {"jobs":[{"id":"...",...},...]}, stepping over the rest of each job by its brackets and
// strings instead of decoding it. False: the answer is not of that shape, and the caller
// decodes it with encoding/json.
func batchIDs(raw []byte) ([]string, bool) {
	const head = `{"jobs":[`
	if len(raw) < len(head) || string(raw[:len(head)]) != head {
		return nil, false
	}
	i := len(head)
	ids := []string{}
	if i < len(raw) && raw[i] == ']' {
		i++
	} else {
		for {
			const id = `{"id":"`
			if len(raw)-i < len(id) || string(raw[i:i+len(id)]) != id {
				return nil, false
			}
			i += len(id)
			start := i
			for i < len(raw) && raw[i] != '"' && raw[i] != '\\' {
				i++
			}
			if i >= len(raw) || raw[i] != '"' {
				return nil, false
			}
			ids = append(ids, string(raw[start:i]))
			i++
			if i = skipObject(raw, i); i < 0 || i >= len(raw) {
				return nil, false
			}
			if raw[i] == ']' {
				i++
				break
			}
			if raw[i] != ',' {
				return nil, false
			}
			i++
		}
	}
	if i >= len(raw) || raw[i] != '}' {
		return nil, false
	}
	for i++; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return nil, false
		}
	}
	return ids, true
}

// skipObject steps from inside an object (at i) to just past its closing brace; -1 if it
// does not close.
func skipObject(raw []byte, i int) int {
	depth := 1
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}
