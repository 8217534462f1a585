; graphmer tags query for Go.
; Capture convention (shared by every language):
;   @definition.<kind>  the definition node (kind: class interface struct trait enum function method)
;   @reference.<kind>   the referencing node (kind: call import base implements decorator raise
;                       instantiate param_type returns)
;   @name               the name node of the definition, or the target of the reference
;   @receiver           (definitions) the type a method belongs to when it is not nested in it:
;                       `func (s *Store) Get()` is `Store.Get`
; Captures starting with `_` only feed predicates.

; --- definitions ------------------------------------------------------------------------
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface

(function_declaration name: (identifier) @name) @definition.function

(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @receiver
        (pointer_type (type_identifier) @receiver)
        (generic_type type: (type_identifier) @receiver)
        (pointer_type (generic_type type: (type_identifier) @receiver))
      ]))
  name: (field_identifier) @name) @definition.method

; Interface methods (nested in the interface, so they become methods).
(method_elem name: (field_identifier) @name) @definition.function

; --- references -------------------------------------------------------------------------
; `f(x)`, `pkg.F(x)`, `s.items.Get(x)`; conversions like `int(x)` read as calls too.
(call_expression function: [(identifier) (selector_expression)] @name) @reference.call

; Composite literals: `Item{...}`, `&pkg.Item{...}`, `Box[int]{...}`.
(composite_literal
  type: [
    (type_identifier) @name
    (qualified_type) @name
    (generic_type type: [(type_identifier) (qualified_type)] @name)
  ]) @reference.instantiate

; Embedding is Go's inheritance: a struct's anonymous fields, an interface's embedded
; interfaces.
(field_declaration_list
  (field_declaration
    !name
    type: [
      (type_identifier) @name
      (qualified_type) @name
      (pointer_type [(type_identifier) (qualified_type)] @name)
      (generic_type type: [(type_identifier) (qualified_type)] @name)
    ]) @reference.base)
(interface_type
  (type_elem [(type_identifier) (qualified_type)] @name) @reference.base)

; `panic(err)`, `panic(ErrBad)`, `panic(&MyErr{...})` stand for a raise.
(call_expression
  function: (identifier) @_panic
  arguments: (argument_list . [
    (identifier) @name
    (selector_expression) @name
    (composite_literal type: [(type_identifier) (qualified_type)] @name)
    (unary_expression operand: (composite_literal type: [(type_identifier) (qualified_type)] @name))
  ])
  (#eq? @_panic "panic")) @reference.raise

; Parameter and result types naming a type (`Foo`, `*Foo`, `pkg.Foo`, `[]Foo`, `Box[T]`);
; predeclared types (`string`, `error`, ...) and one-letter names (type parameters) are left
; out. The receiver is a separate field, so it is not a parameter here.
(_
  parameters: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @name
        (qualified_type) @name
        (pointer_type [(type_identifier) (qualified_type)] @name)
        (slice_type element: [(type_identifier) (qualified_type)] @name)
        (pointer_type (slice_type element: [(type_identifier) (qualified_type)] @name))
        (slice_type element: (pointer_type [(type_identifier) (qualified_type)] @name))
        (generic_type type: [(type_identifier) (qualified_type)] @name)
      ]) @reference.param_type)
  (#not-match? @name "^([A-Z]|any|bool|byte|comparable|complex64|complex128|error|float32|float64|int|int8|int16|int32|int64|rune|string|uint|uint8|uint16|uint32|uint64|uintptr)$"))
(_
  parameters: (parameter_list
    (variadic_parameter_declaration
      type: [
        (type_identifier) @name
        (qualified_type) @name
        (pointer_type [(type_identifier) (qualified_type)] @name)
        (slice_type element: [(type_identifier) (qualified_type)] @name)
        (pointer_type (slice_type element: [(type_identifier) (qualified_type)] @name))
        (slice_type element: (pointer_type [(type_identifier) (qualified_type)] @name))
        (generic_type type: [(type_identifier) (qualified_type)] @name)
      ]) @reference.param_type)
  (#not-match? @name "^([A-Z]|any|bool|byte|comparable|complex64|complex128|error|float32|float64|int|int8|int16|int32|int64|rune|string|uint|uint8|uint16|uint32|uint64|uintptr)$"))
(_
  result: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @name
        (qualified_type) @name
        (pointer_type [(type_identifier) (qualified_type)] @name)
        (slice_type element: [(type_identifier) (qualified_type)] @name)
        (pointer_type (slice_type element: [(type_identifier) (qualified_type)] @name))
        (slice_type element: (pointer_type [(type_identifier) (qualified_type)] @name))
        (generic_type type: [(type_identifier) (qualified_type)] @name)
      ]))
  (#not-match? @name "^([A-Z]|any|bool|byte|comparable|complex64|complex128|error|float32|float64|int|int8|int16|int32|int64|rune|string|uint|uint8|uint16|uint32|uint64|uintptr)$")) @reference.returns
(_
  result: [
      (type_identifier) @name
      (qualified_type) @name
      (pointer_type [(type_identifier) (qualified_type)] @name)
      (slice_type element: [(type_identifier) (qualified_type)] @name)
      (pointer_type (slice_type element: [(type_identifier) (qualified_type)] @name))
      (slice_type element: (pointer_type [(type_identifier) (qualified_type)] @name))
      (generic_type type: [(type_identifier) (qualified_type)] @name)
    ]
  (#not-match? @name "^([A-Z]|any|bool|byte|comparable|complex64|complex128|error|float32|float64|int|int8|int16|int32|int64|rune|string|uint|uint8|uint16|uint32|uint64|uintptr)$")) @reference.returns

; Imports: the path string (`"fmt"`, `str "strings"`, `_ "embed"`).
(import_spec path: (_) @name) @reference.import
