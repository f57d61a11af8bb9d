# Hot functions together (docs/startup.md, "Function order"). On this kind of VM the first touch
# of each code page costs a hypervisor exit (~14 us when the pages are scattered), and a command
# runs a few hundred functions spread over a 4 MB binary. Each function gets its own section
# (-ffunction-sections) and lld lays out those named in cmake/order/<program>.txt first, in that
# order (the order they first ran in, recorded by scripts/gen-function-order). Functions the list
# does not name keep their usual place, so a stale list costs speed, never correctness.
option(BERTH_FUNCTION_ORDER "Lay out berth's and berth-supervisor's hot functions together (needs lld)" ON)
option(BERTH_TRACE_FUNCTIONS "Record the functions each run executes (for scripts/gen-function-order)" OFF)

if(BERTH_TRACE_FUNCTIONS)
  add_compile_options(-finstrument-functions)
  add_library(berth_function_trace STATIC ${PROJECT_SOURCE_DIR}/scripts/function-order/function_trace.c)
  add_library(berth_function_trace_quiet STATIC ${PROJECT_SOURCE_DIR}/scripts/function-order/function_trace.c)
  target_compile_definitions(berth_function_trace_quiet PRIVATE BERTH_TRACE_QUIET)
  set_target_properties(berth_function_trace_quiet PROPERTIES POSITION_INDEPENDENT_CODE ON)
  set(BERTH_FUNCTION_ORDER OFF)
endif()

set(berth_order_linker "")
if(BERTH_FUNCTION_ORDER AND NOT BERTH_SANITIZE)
  find_program(BERTH_LLD NAMES ld.lld)
  if(BERTH_LLD)
    add_compile_options(-ffunction-sections)
    set(berth_order_linker lld)
  else()
    message(WARNING "ld.lld not found (apt-get install lld): berth links without its function order")
  endif()
endif()

# berth_function_order(TARGET [QUIET]): link TARGET with its order file, or (trace builds) with
# the recorder; QUIET: with hooks that record nothing (a module loaded into berth).
function(berth_function_order target)
  if(BERTH_TRACE_FUNCTIONS)
    if(ARGV1 STREQUAL "QUIET")
      target_link_libraries(${target} PRIVATE berth_function_trace_quiet)
    else()
      target_link_libraries(${target} PRIVATE berth_function_trace)
    endif()
  elseif(berth_order_linker AND EXISTS ${PROJECT_SOURCE_DIR}/cmake/order/${target}.txt)
    set(order_file ${PROJECT_SOURCE_DIR}/cmake/order/${target}.txt)
    target_link_options(${target} PRIVATE -fuse-ld=lld -Wl,--symbol-ordering-file=${order_file}
                        -Wl,--no-warn-symbol-ordering)
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${order_file})
  endif()
endfunction()
