"""One optimizer step for a mini-batch: sparse input-table gradients summed per feature.

A thread training with ``batch_size > 1`` sums the input-table gradients of
its batch in a small open-addressing hash table keyed by feature (a feature
met in several rows of the batch gets one update, with the summed gradient),
and the dense gradients in a flat buffer; ``apply_step`` then applies their
mean in one optimizer step and empties the table.  Shared by the row-by-row
epoch (``hogwild``) and the batched fields epoch (``fields_batch``).
"""

import numba
import numpy as np

from .network import SPEC_TABLE_WIDTH
from .optimizers import update_dense_params


@numba.njit(nogil=True, cache=True, inline="always")
def accumulate_input_gradient(hash_slots, slot_feature, slot_position, slot_grad, n_slots,
                              feature, scale, delta0, delta_row, h0):
    """Add ``scale * delta0[delta_row]`` to the mini-batch slot of ``feature``; return the slot count.

    ``hash_slots`` is an open-addressing table (linear probing, power-of-two
    size) from a feature's hash position to its slot.
    """
    mask = hash_slots.shape[0] - 1
    position = (np.int64(feature) * 2654435761) & mask
    while True:
        slot = hash_slots[position]
        if slot == -1:
            slot = n_slots
            hash_slots[position] = slot
            slot_feature[slot] = feature
            slot_position[slot] = position
            for c in range(h0):
                slot_grad[slot, c] = 0.0
            n_slots += 1
            break
        if slot_feature[slot] == feature:
            break
        position = (position + 1) & mask
    for c in range(h0):
        slot_grad[slot, c] += scale * delta0[delta_row, c]
    return n_slots


@numba.njit(nogil=True, cache=True, inline="always")
def apply_step(rules, input_table, dense_params, dense_state, layout, config, grad, hash_slots,
               slot_feature, slot_position, slot_grad, slot_scale, n_slots, batch_count, step):
    """Apply the accumulated mean gradient of ``batch_count`` units: one step of the optimizer ``rules``.

    ``rules`` is the optimizer's module (``optimizers.OPTIMIZER_RULES``), a
    compile-time constant of the calling kernel.
    """
    rate = rules.step_rate(config, step)
    scale = 1.0 / batch_count
    width = layout.input_spec[SPEC_TABLE_WIDTH]
    update_dense_params(rules, dense_params, dense_state, grad, layout, scale, rate, config)
    for p in range(grad.shape[0]):
        grad[p] = 0.0
    for slot in range(n_slots):
        slot_scale[slot] = scale
        hash_slots[slot_position[slot]] = -1
        rules.input_rows(input_table, slot_feature, slot_scale, slot, slot + 1, width, slot_grad,
                          slot, rate, step, config)
