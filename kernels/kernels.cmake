# CUDA calibration kernels, the harness `clustersim-kernels` and the kernel benchmarks (included by
# kernels/CMakeLists.txt when nvcc exists). GPU programs exit 77 without a device; ctest reports them as skipped.

# The project's -Wall -Wextra are host-compiler flags: nvcc rejects them, so in this folder they go to C++ only
# (and to nvcc's host compiler through -Xcompiler).
set_property(DIRECTORY PROPERTY COMPILE_OPTIONS "")
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wall> $<$<COMPILE_LANGUAGE:CXX>:-Wextra>
                    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall>)

# Device code in its own library: it links nothing but the CUDA runtime, so no C++20 requirement of a host library
# reaches nvcc (CMake 3.25 knows no C++20 flag for nvcc 13); the .cu files are C++17.
add_library(cs_kernels_cu STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/fill.cu
  ${CMAKE_CURRENT_SOURCE_DIR}/memory_kernels.cu
  ${CMAKE_CURRENT_SOURCE_DIR}/ep_kernels.cu)
target_include_directories(cs_kernels_cu PUBLIC ${CMAKE_SOURCE_DIR})
set_target_properties(cs_kernels_cu PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
target_link_libraries(cs_kernels_cu PUBLIC CUDA::cudart)

# Host side: timing, cuBLASLt GEMMs, the runners with their CPU references.
add_library(cs_kernels STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/timing.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/gemm.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/runners.cpp)
target_include_directories(cs_kernels PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(cs_kernels PUBLIC cs_kernels_cu cs_calibration CUDA::cudart CUDA::cublasLt fmt::fmt ${CMAKE_DL_LIBS})

# NCCL (all-to-all and p2p between this machine's GPUs) is optional.
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib)
if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
  message(STATUS "clustersim: NCCL found (${NCCL_LIBRARY}); clustersim-kernels times all-to-all and p2p on >= 2 GPUs")
  target_sources(cs_kernels PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/nccl_bench.cpp)
  target_include_directories(cs_kernels PRIVATE ${NCCL_INCLUDE_DIR})
  target_link_libraries(cs_kernels PUBLIC ${NCCL_LIBRARY})
  target_compile_definitions(cs_kernels PUBLIC CLUSTERSIM_NCCL=1)
else()
  message(STATUS "clustersim: NCCL not found; clustersim-kernels will not time all-to-all and p2p")
endif()

# The harness: reads a shape list (clustersim calibrate shapes), writes a profile. Next to `clustersim`, which runs it.
add_executable(clustersim-kernels ${CMAKE_CURRENT_SOURCE_DIR}/harness_main.cpp)
target_link_libraries(clustersim-kernels PRIVATE cs_kernels CLI11::CLI11)
set_target_properties(clustersim-kernels PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

# Kernel timings as Google Benchmark results (for ad-hoc runs; CI compares profiles with `calibrate compare`).
add_executable(bench_kernels ${CMAKE_CURRENT_SOURCE_DIR}/bench_kernels.cpp)
target_link_libraries(bench_kernels PRIVATE cs_kernels benchmark::benchmark)

# GPU checks: every kernel against its CPU reference on small shapes; the benchmarks once. Skipped (77) without a GPU.
add_test(NAME kernels_self_test COMMAND clustersim-kernels --self-test)
add_test(NAME kernels_bench_smoke COMMAND bench_kernels --benchmark_min_time=0.01)
set_tests_properties(kernels_self_test kernels_bench_smoke PROPERTIES SKIP_RETURN_CODE 77)
