// The epilogue of the numerics contract (docs/numerics.md §7): bias, activation function and
// output conversion, applied in this order to the dequantized accumulation.
#pragma once

#include "qk/layer_config.hpp"

namespace qk::quant {

/// The activation function, evaluated in double precision and rounded once to float (§7.2).
float apply_activation(Activation function, float x);

/// x converted to the output type (§7.3), returned as a float holding the stored value:
/// fp32 as is; fp16/bf16 rounded to nearest even; int8 requantized with inv_output_scale
/// (quantize_int8), returned as the integer code.
float convert_output(QuantType output, float x, float inv_output_scale);

/// The whole epilogue for one element: convert_output(activation(acc + bias)). With
/// `epilogue.bias` false the bias argument is ignored.
float apply_epilogue(const Epilogue& epilogue, float acc, float bias, float inv_output_scale);

}  // namespace qk::quant
