/**
 * Registers TensorFlow.js's gradient functions (needed for training) with the one tfjs-core
 * instance the library uses.
 *
 * Limitation: tfjs-core ships its gradient registrations only as ES modules with extensionless
 * imports, which Node.js cannot load; the CommonJS bundle of `@tensorflow/tfjs` registers the
 * same gradients on the shared `@tensorflow/tfjs-core`, so it is imported for that side effect.
 */
import '@tensorflow/tfjs';
