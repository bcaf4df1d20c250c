//! `.npy` arrays of f64 for the golden files, through the `npyz` crate.
//!
//! Written files are NPY format version 1.0, dtype `<f8` (little-endian IEEE double),
//! `fortran_order: False` (C order), the shape as given (`()` for a scalar). Read files must
//! hold float64 (`<f8` or `>f8`) without pickled objects; Fortran-ordered files are accepted
//! and reordered to C order. Anything else (float32, integers, object arrays, a truncated data
//! block, trailing bytes) is an error naming the file, never a silent conversion.

use npyz::WriterBuilder;

/// An f64 array in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// The bytes of a `.npy` v1.0 file holding `data` (C order) with `shape`.
pub fn to_bytes(shape: &[usize], data: &[f64]) -> std::io::Result<Vec<u8>> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    let mut out = Vec::new();
    let shape64: Vec<u64> = shape.iter().map(|&x| x as u64).collect();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape64)
        .writer(&mut out)
        .begin_nd()?;
    w.extend(data.iter().copied())?;
    w.finish()?;
    Ok(out)
}

/// Parses a `.npy` file of float64 values; the error says what is wrong (the caller adds the
/// file name).
pub fn from_bytes(bytes: &[u8]) -> Result<Array, String> {
    let file = npyz::NpyFile::new(bytes).map_err(|e| format!("not a valid .npy file: {e}"))?;
    if file.uses_pickled_array() {
        return Err("holds pickled Python objects, expected float64".into());
    }
    let dtype = file.dtype();
    let ok = match &dtype {
        npyz::DType::Plain(ts) => ts.type_char() == npyz::TypeChar::Float && ts.size_field() == 8,
        _ => false,
    };
    if !ok {
        return Err(format!(
            "dtype {} is not float64 ('<f8'): save with np.asarray(x, dtype=np.float64)",
            dtype.descr()
        ));
    }
    let shape: Vec<usize> = file.shape().iter().map(|&x| x as usize).collect();
    let order = file.order();
    let n: usize = shape.iter().product();
    let data_start = bytes.len() - file_data_len(bytes)?;
    if bytes.len() - data_start != 8 * n {
        return Err(format!(
            "data block has {} bytes, expected {} for shape {:?}",
            bytes.len() - data_start,
            8 * n,
            shape
        ));
    }
    let data: Vec<f64> = file
        .into_vec::<f64>()
        .map_err(|e| format!("cannot read the data: {e}"))?;
    let data = if order == npyz::Order::Fortran && shape.len() > 1 {
        fortran_to_c(&shape, &data)
    } else {
        data
    };
    Ok(Array { shape, data })
}

/// Length of the data block: total length minus the header (magic, version, header length,
/// header), for versions 1.0 (2-byte length) and 2.0/3.0 (4-byte length).
fn file_data_len(bytes: &[u8]) -> Result<usize, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic string)".into());
    }
    let header_end = match bytes[6] {
        1 => 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize,
        2 | 3 if bytes.len() >= 12 => {
            12 + u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    if header_end > bytes.len() {
        return Err("truncated header".into());
    }
    Ok(bytes.len() - header_end)
}

/// Reorders Fortran-order data (first index fastest) to C order (last index fastest).
fn fortran_to_c(shape: &[usize], data: &[f64]) -> Vec<f64> {
    let n = data.len();
    let mut out = vec![0.0; n];
    let mut idx = vec![0usize; shape.len()];
    for slot in out.iter_mut() {
        // idx is the C-order multi-index of `slot`; its Fortran offset:
        let mut off = 0usize;
        let mut stride = 1usize;
        for (k, &i) in idx.iter().enumerate() {
            off += i * stride;
            stride *= shape[k];
        }
        *slot = data[off];
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_shapes() {
        for (shape, data) in [
            (vec![], vec![1.5]),
            (vec![3], vec![1.0, -2.0, 3.25]),
            (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, f64::MIN_POSITIVE]),
        ] {
            let b = to_bytes(&shape, &data).unwrap();
            assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
            // header padded so that the data starts at a multiple of 64 bytes (NEP 1)
            assert_eq!((b.len() - 8 * data.len()) % 64, 0);
            let a = from_bytes(&b).unwrap();
            assert_eq!(a.shape, shape);
            assert_eq!(a.data, data);
        }
    }

    #[test]
    fn refuses_float32_and_garbage() {
        let mut out = Vec::new();
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[2])
            .writer(&mut out)
            .begin_nd()
            .unwrap();
        w.extend([1.0f32, 2.0]).unwrap();
        w.finish().unwrap();
        assert!(from_bytes(&out).unwrap_err().contains("float64"));
        assert!(from_bytes(b"hello").is_err());
        let mut b = to_bytes(&[3], &[1.0, 2.0, 3.0]).unwrap();
        b.truncate(b.len() - 3);
        assert!(from_bytes(&b).is_err());
    }

    #[test]
    fn fortran_order_is_reordered() {
        // shape (2, 3), Fortran data column by column
        let f = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        assert_eq!(
            fortran_to_c(&[2, 3], &f),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
    }
}
