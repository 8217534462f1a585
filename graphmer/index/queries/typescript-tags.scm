; graphmer tags query for TypeScript (.ts .mts .cts) and TSX (.tsx): one file, compiled
; against both grammars, so it uses only node types the two share.
; Capture convention (shared by every language):
;   @definition.<kind>  the definition node (kind: class interface struct trait enum function method)
;   @reference.<kind>   the referencing node (kind: call import base implements decorator raise
;                       instantiate param_type returns)
;   @name               the name node of the definition, or the target of the reference
;   @receiver           (definitions) the type a method belongs to when it is not nested in it
; Captures starting with `_` only feed predicates.

; --- definitions ------------------------------------------------------------------------
(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(interface_declaration name: (type_identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function

; Class members (and object-literal methods); inside a class or interface they become methods.
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.function
(abstract_method_signature name: (property_identifier) @name) @definition.function
(interface_body (method_signature name: (property_identifier) @name) @definition.function)
(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression)]) @definition.function

; `const f = () => ...`, `let g = function () {...}`
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function

; --- references -------------------------------------------------------------------------
(call_expression
  function: [(identifier) (member_expression)] @name
  (#not-eq? @name "require")) @reference.call

(new_expression constructor: [(identifier) (member_expression)] @name) @reference.instantiate

; class A extends B<T> implements C, D<T>; interface I extends J, K<T>
(extends_clause value: [(identifier) (member_expression)] @name) @reference.base
(implements_clause [(type_identifier) (nested_type_identifier)] @name) @reference.implements
(implements_clause (generic_type name: (_) @name)) @reference.implements
(extends_type_clause type: [(type_identifier) (nested_type_identifier)] @name) @reference.base
(extends_type_clause type: (generic_type name: (_) @name)) @reference.base

(decorator [(identifier) (member_expression)] @name) @reference.decorator
(decorator (call_expression function: [(identifier) (member_expression)] @name)) @reference.decorator

(throw_statement (new_expression constructor: [(identifier) (member_expression)] @name)) @reference.raise
(throw_statement [(identifier) (member_expression)] @name) @reference.raise

; Parameter and return annotations naming a type (`Foo`, `ns.Foo`, `Foo<T>`, `Foo[]`);
; built-in types (`string`, `number`, ...) are predefined_type nodes and are left out, and
; so are one-letter names (type parameters: `T`, `K`).
(required_parameter
  type: (type_annotation [
    (type_identifier) @name
    (nested_type_identifier) @name
    (generic_type name: (_) @name)
    (array_type [(type_identifier) (nested_type_identifier)] @name)
  ])
  (#not-match? @name "^[A-Z]$")) @reference.param_type
(optional_parameter
  type: (type_annotation [
    (type_identifier) @name
    (nested_type_identifier) @name
    (generic_type name: (_) @name)
    (array_type [(type_identifier) (nested_type_identifier)] @name)
  ])
  (#not-match? @name "^[A-Z]$")) @reference.param_type
(_
  return_type: (type_annotation [
    (type_identifier) @name
    (nested_type_identifier) @name
    (generic_type name: (_) @name)
    (array_type [(type_identifier) (nested_type_identifier)] @name)
  ])
  (#not-match? @name "^[A-Z]$")) @reference.returns

; Imports: the module specifier string.
(import_statement source: (string) @name) @reference.import
(export_statement source: (string) @name) @reference.import
(import_require_clause source: (string) @name) @reference.import
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string) @name)
  (#eq? @_require "require")) @reference.import
(call_expression function: (import) arguments: (arguments . (string) @name)) @reference.import
