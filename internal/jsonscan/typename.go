package jsonscan

import (
	"reflect"
	"strings"
)

// TypeName names the JSON value that decodes into t, with its article ("an integer", "a
// string"), for errors that tell a caller what JSON was wanted rather than which Go type.
func TypeName(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(TypeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Pointer:
		return TypeName(t.Elem())
	default:
		return "an object"
	}
}
