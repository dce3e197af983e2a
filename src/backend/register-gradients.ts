/**
 * Registers TensorFlow.js's gradient functions (needed for training) with the one tfjs-core
 * instance the library uses, and corrects one of them.
 *
 * Limitation: tfjs-core ships its gradient registrations only as ES modules with extensionless
 * imports, which Node.js cannot load; the CommonJS bundle of `@tensorflow/tfjs` registers the
 * same gradients on the shared `@tensorflow/tfjs-core`, so it is imported for that side effect.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';

// Limitation: the cpu backend's ResizeBilinearGrad (tfjs 4.22) returns its values in the right
// order but with height and width swapped in the shape, which breaks the gradient of any
// non-square resize (the trilinear upsampling resizes [D, H*W] images); the shape is restored.
tf.registerGradient({
  kernelName: tf.ResizeBilinear,
  inputsToSave: ['images'],
  gradFunc: (dy, saved, attrs) => {
    const [images] = saved as [tf.Tensor4D];
    return {
      images: () => {
        const dx = tf
          .engine()
          .runKernel(
            tf.ResizeBilinearGrad,
            { dy: dy as tf.Tensor, images },
            attrs as unknown as tf.NamedAttrMap,
          ) as tf.Tensor;
        return tf.reshape(dx, images.shape);
      },
    };
  },
});
