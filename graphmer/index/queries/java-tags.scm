; graphmer tags query for Java.
; Capture convention (shared by every language):
;   @definition.<kind>  the definition node (kind: class interface struct trait enum function method)
;   @reference.<kind>   the referencing node (kind: call import base implements decorator raise
;                       instantiate param_type returns)
;   @name               the name node of the definition, or the target of the reference
;   @scope              (references) prefixed to @name with a `.` where no single node spells
;                       the target: `db.query(x)` has object `db` and name `query`
;   @receiver           (definitions) the type a method belongs to when it is not nested in it

; --- definitions ------------------------------------------------------------------------
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum

; Methods and constructors (always inside a type, so they become methods).
(method_declaration name: (identifier) @name) @definition.function
(constructor_declaration name: (identifier) @name) @definition.function

; --- references -------------------------------------------------------------------------
; `log(x)`, `db.query(x)`, `this.repo.get(x)`; calls on a call result (`a().b()`) are dropped.
(method_invocation !object name: (identifier) @name) @reference.call
(method_invocation
  object: [(identifier) (field_access) (this)] @scope
  name: (identifier) @name) @reference.call

(object_creation_expression
  type: [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type [(type_identifier) (scoped_type_identifier)] @name)
  ]) @reference.instantiate

; class A extends B<T> implements C; interface I extends J, K
(superclass [
  (type_identifier) @name
  (scoped_type_identifier) @name
  (generic_type [(type_identifier) (scoped_type_identifier)] @name)
]) @reference.base
(super_interfaces (type_list [
  (type_identifier) @name
  (scoped_type_identifier) @name
  (generic_type [(type_identifier) (scoped_type_identifier)] @name)
])) @reference.implements
(extends_interfaces (type_list [
  (type_identifier) @name
  (scoped_type_identifier) @name
  (generic_type [(type_identifier) (scoped_type_identifier)] @name)
])) @reference.base

; Annotations: `@Override`, `@Deprecated(since = "2")`.
(marker_annotation name: [(identifier) (scoped_identifier)] @name) @reference.decorator
(annotation name: [(identifier) (scoped_identifier)] @name) @reference.decorator

; `throw new X(...)`, `throw e`, and declared `throws X, Y`.
(throw_statement
  (object_creation_expression
    type: [
      (type_identifier) @name
      (scoped_type_identifier) @name
      (generic_type [(type_identifier) (scoped_type_identifier)] @name)
    ])) @reference.raise
(throw_statement [(identifier) (field_access)] @name) @reference.raise
(throws [(type_identifier) (scoped_type_identifier)] @name) @reference.raise

; Parameter and return types naming a class (`Foo`, `a.Foo`, `List<Foo>` -> List, `Foo[]`);
; primitives are other node types and are left out, and so are one-letter names (type
; parameters: `T`, `E`).
(formal_parameter
  type: [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type [(type_identifier) (scoped_type_identifier)] @name)
    (array_type element: [(type_identifier) (scoped_type_identifier)] @name)
  ]
  (#not-match? @name "^[A-Z]$")) @reference.param_type
(spread_parameter
  [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type [(type_identifier) (scoped_type_identifier)] @name)
  ]
  (#not-match? @name "^[A-Z]$")) @reference.param_type
(method_declaration
  type: [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type [(type_identifier) (scoped_type_identifier)] @name)
    (array_type element: [(type_identifier) (scoped_type_identifier)] @name)
  ]
  (#not-match? @name "^[A-Z]$")) @reference.returns

; Imports: `import a.b.C;`, `import static a.b.C.m;`, `import a.b.*;` (-> `a.b`).
(import_declaration [(scoped_identifier) (identifier)] @name) @reference.import
