package inproc

import (
	"maps"
	"reflect"
	"sync"
)

// cloner makes deep copies of payloads for the second and later groups of a
// topic. A copy duplicates every slice, map, pointer and interface reachable
// through exported struct fields, recursively; strings (immutable), funcs,
// channels and unexported fields (time.Time's location, for instance) are
// shared, as a handler cannot change them. Nil stays nil and empty stays
// empty, so the copy is reflect.DeepEqual to the original.
//
// The walk over a type is worked out once, by reflection, and kept: a bus
// sees only a handful of payload types. Payloads are batches of plain data; a
// pointer cycle would recurse without end, and the pipeline's element types
// have none (the only pointers are an incident's members, which point to
// nothing but their labels).
type cloner struct {
	funcs sync.Map // reflect.Type → copyFunc, for types that need a deep copy

	mu       sync.Mutex // serialises compile
	building map[reflect.Type]*copyFunc
}

// copyFunc sets dst, which is settable and of src's type, to a deep copy of
// src.
type copyFunc func(dst, src reflect.Value)

// clone returns a deep copy of v.
func (c *cloner) clone(v any) any {
	if v == nil {
		return nil
	}
	src := reflect.ValueOf(v)
	f := c.funcFor(src.Type())
	if f == nil {
		return v // nothing in v is shared by a shallow copy
	}
	dst := reflect.New(src.Type()).Elem()
	f(dst, src)
	return dst.Interface()
}

// funcFor returns the copy function for t, or nil when assigning a value of t
// already makes an independent copy.
func (c *cloner) funcFor(t reflect.Type) copyFunc {
	if f, ok := c.funcs.Load(t); ok {
		return f.(copyFunc)
	}
	if !needsDeep(t) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.compile(t)
}

// compile returns a pointer to t's copy function, which is complete when the
// outermost compile returns; the indirection lets recursive types refer to
// themselves. c.mu must be held.
func (c *cloner) compile(t reflect.Type) *copyFunc {
	if f, ok := c.funcs.Load(t); ok {
		f := f.(copyFunc)
		return &f
	}
	if p, ok := c.building[t]; ok {
		return p
	}
	if c.building == nil {
		c.building = make(map[reflect.Type]*copyFunc)
	}
	p := new(copyFunc)
	c.building[t] = p
	*p = c.build(t)
	delete(c.building, t)
	c.funcs.Store(t, *p)
	return p
}

// sub returns the copy function for a component type of a compiled type, or
// nil when plain assignment suffices.
func (c *cloner) sub(t reflect.Type) *copyFunc {
	if !needsDeep(t) {
		return nil
	}
	return c.compile(t)
}

var stringMap = reflect.TypeFor[map[string]string]()

// build makes the copy function of t, a type for which needsDeep is true.
func (c *cloner) build(t reflect.Type) copyFunc {
	switch t.Kind() {
	case reflect.Slice:
		elem := c.sub(t.Elem())
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero() // dst may be reused (map keys and elements)
				return
			}
			n := src.Len()
			s := reflect.MakeSlice(t, n, n)
			if elem == nil {
				reflect.Copy(s, src)
			} else {
				for i := range n {
					(*elem)(s.Index(i), src.Index(i))
				}
			}
			dst.Set(s)
		}
	case reflect.Array:
		elem := c.sub(t.Elem())
		return func(dst, src reflect.Value) {
			for i := range src.Len() {
				(*elem)(dst.Index(i), src.Index(i))
			}
		}
	case reflect.Map:
		if t.ConvertibleTo(stringMap) {
			// Labels, annotations, attributes: the runtime's map clone is
			// several times faster than a walk by reflection.
			return func(dst, src reflect.Value) {
				if src.IsNil() {
					dst.SetZero()
					return
				}
				m := maps.Clone(src.Convert(stringMap).Interface().(map[string]string))
				dst.Set(reflect.ValueOf(m)) // assignable: same underlying type
			}
		}
		key, elem := c.sub(t.Key()), c.sub(t.Elem())
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			m := reflect.MakeMapWithSize(t, src.Len())
			k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			for it := src.MapRange(); it.Next(); {
				if key == nil {
					k.SetIterKey(it)
				} else {
					(*key)(k, it.Key())
				}
				if elem == nil {
					e.SetIterValue(it)
				} else {
					(*elem)(e, it.Value())
				}
				m.SetMapIndex(k, e)
			}
			dst.Set(m)
		}
	case reflect.Pointer:
		elem := c.sub(t.Elem())
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			p := reflect.New(t.Elem())
			if elem == nil {
				p.Elem().Set(src.Elem())
			} else {
				(*elem)(p.Elem(), src.Elem())
			}
			dst.Set(p)
		}
	case reflect.Interface:
		// The dynamic type is known only per value.
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			v := src.Elem()
			if f := c.funcFor(v.Type()); f != nil {
				e := reflect.New(v.Type()).Elem()
				f(e, v)
				v = e
			}
			dst.Set(v)
		}
	case reflect.Struct:
		type field struct {
			index int
			copy  *copyFunc
		}
		var fields []field
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				if fc := c.sub(f.Type); fc != nil {
					fields = append(fields, field{i, fc})
				}
			}
		}
		return func(dst, src reflect.Value) {
			dst.Set(src) // every field, unexported ones included, shallowly
			for _, f := range fields {
				(*f.copy)(dst.Field(f.index), src.Field(f.index))
			}
		}
	default:
		panic("BUG: inproc: no deep copy for " + t.String())
	}
}

// needsDeep reports whether a value of t can reach, through exported fields,
// memory that assignment would share: a slice, map, pointer or interface.
func needsDeep(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return true
	case reflect.Array:
		return t.Len() > 0 && needsDeep(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && needsDeep(f.Type) {
				return true
			}
		}
		return false
	default:
		return false
	}
}
