/* Denormals as zero while kernels run (float_mode.c): the interpreter around an invoke, each thread
 * pool worker for its life. end() restores what begin() returned. */
#ifndef P2L_BASE_FLOAT_MODE_H
#define P2L_BASE_FLOAT_MODE_H

unsigned p2l_flush_denormals_begin(void);
void p2l_flush_denormals_end(unsigned previous);

#endif
