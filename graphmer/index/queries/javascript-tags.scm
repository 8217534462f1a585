; graphmer tags query for JavaScript (.js .mjs .cjs .jsx).
; Capture convention (shared by every language):
;   @definition.<kind>  the definition node (kind: class interface struct trait enum function method)
;   @reference.<kind>   the referencing node (kind: call import base implements decorator raise
;                       instantiate param_type returns)
;   @name               the name node of the definition, or the target of the reference
;   @receiver           (definitions) the type a method belongs to when it is not nested in it
; Captures starting with `_` only feed predicates.

; --- definitions ------------------------------------------------------------------------
(class_declaration name: (identifier) @name) @definition.class

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function

; Class members (and object-literal methods); inside a class they become methods.
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.function
(field_definition
  property: [(property_identifier) (private_property_identifier)] @name
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

(class_heritage [(identifier) (member_expression)] @name) @reference.base

(decorator [(identifier) (member_expression)] @name) @reference.decorator
(decorator (call_expression function: [(identifier) (member_expression)] @name)) @reference.decorator

(throw_statement (new_expression constructor: [(identifier) (member_expression)] @name)) @reference.raise
(throw_statement [(identifier) (member_expression)] @name) @reference.raise

; Imports: the module specifier string.
(import_statement source: (string) @name) @reference.import
(export_statement source: (string) @name) @reference.import
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string) @name)
  (#eq? @_require "require")) @reference.import
(call_expression function: (import) arguments: (arguments . (string) @name)) @reference.import
