# The sweep tests' driver: a sweep with the synthetic test evaluator, runnable under mpirun.
add_executable(sweep_driver ${CMAKE_CURRENT_LIST_DIR}/driver/sweep_driver.cpp)
if(MPI_CXX_FOUND)
  # MPI ahead of cs_reports: libsimgrid also defines MPI_* (SMPI); the first library named wins.
  target_link_libraries(sweep_driver PRIVATE MPI::MPI_CXX)
  target_compile_definitions(sweep_driver PRIVATE CLUSTERSIM_MPI=1)
endif()
target_link_libraries(sweep_driver PRIVATE cs_reports Threads::Threads)
target_compile_definitions(test_sweep PRIVATE SWEEP_DRIVER="$<TARGET_FILE:sweep_driver>")
add_dependencies(test_sweep sweep_driver)
